# The two commands: `make run` (the whole system on embedded defaults) and `make test`.
# Both create .venv when it is missing and install the pinned dependencies into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest install browser clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/mediaops up

test: lint typecheck browser pytest

# The browser tests drive Debian's Chromium through its ChromeDriver, with a Chinese font for the
# screenshots; they are installed once if the machine lacks them. Where they cannot be installed,
# pytest skips the browser tests and says so.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
browser:
	@{ command -v chromium && command -v chromedriver && fc-list :lang=zh | grep -q .; } >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			chromium chromium-driver fonts-wqy-microhei >/dev/null; } || \
		echo "Chromium could not be installed (apt-get install chromium chromium-driver): the browser tests will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mediaops .pytest_cache .mypy_cache .ruff_cache
