# syntax=docker/dockerfile:1
#
# The MediaOps application image: one image for every process.
#   mediaops worker          a worker: every workflow and activity, and the per-platform task queues
#   mediaops api             the HTTP API (and the codec endpoint the Temporal UI calls)
#   mediaops migrate         the database migrations, as the schema's owner (a one-shot job)
#   mediaops temporal-init   the Temporal namespace and the search attributes (a one-shot job)
# and the rest of the CLI for operators (`mediaops audit replay`, `mediaops events verify`, ...).
#
# Build from the repository's root: docker build -t mediaops:<version> .
# deploy/README.md says how the image is run (Compose, Kubernetes) and upgraded.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the application and its runtime dependencies -------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/mediaops
ENV PATH=/opt/mediaops/bin:$PATH

WORKDIR /src
# .dockerignore lets in only what `pip install .` needs: no tests, no .git, no local state, no secrets.
COPY . .
# The versions in constraints.txt (the resolved set the tests ran on). Not `.[dev]`: no test tools
# in production. Every dependency ships a manylinux wheel, so the build needs no compiler.
RUN pip install --no-cache-dir --constraint constraints.txt . \
    && python -m compileall -q /opt/mediaops/lib \
    && mediaops --help > /dev/null

# --- runtime: the virtual environment, a user of its own, nothing else ----------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --gid 10001 mediaops \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/mediaops \
        --shell /usr/sbin/nologin mediaops \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/mediaops \
    && install -d -m 0755 /app /etc/mediaops

COPY --from=build /opt/mediaops /opt/mediaops

ENV PATH=/opt/mediaops/bin:$PATH \
    MEDIAOPS_ENV=production \
    MEDIAOPS_HOME=/var/lib/mediaops \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app
USER 10001

# 8000: the API; 9464: each process's /metrics, /healthz and /readyz (MEDIAOPS_METRICS_ADDRESS).
EXPOSE 8000 9464

# No HEALTHCHECK here: Compose and Kubernetes probe each process on its own endpoint.
ENTRYPOINT ["mediaops"]
CMD ["api"]
