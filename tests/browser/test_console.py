"""Issue 14, must show 1 and 2: the department's console in a real Chromium, on the `make run` stack.

A content specialist signs in (after a wrong password is refused), submits a company-project
article for the website and WeChat and sees the checks pass; the operations manager finds it in
我的工作 and approves; the general manager confirms; the article's page shows it published on
both platforms. A follower's WeChat message appears on the SLA board and is answered there. A
promotion is planned on the calendar. A form posted without its CSRF token is refused. The
screenshots of 我的工作, the article, the SLA board and the calendar are left in
tests/output/console/.
"""

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from deploy.launch import stack_environment
from eventstore.logins import DEMO_PASSWORD
from tests.browser_support import FLAGS, chromedriver, chromium, output_folder
from tests.e2e.stack_support import RunningStack, cli, running_stack

BEIJING = ZoneInfo("Asia/Shanghai")
TITLE = "新园区项目正式开工"
WAIT_S = 90


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("console")
    with running_stack(stack_environment(home / "state")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in [*FLAGS, "--window-size=1280,1100", "--lang=zh-CN"]:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for a browser online
    driver = webdriver.Chrome(service=Service(chromedriver()), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: WebDriver, check: object, what: str, within: float = WAIT_S) -> object:
    def attempt(d: WebDriver) -> object:
        try:
            return check(d)  # type: ignore[operator]
        except (StaleElementReferenceException, NoSuchElementException):
            return False  # htmx swapped the part under us, or the next page has no body yet: look again

    return WebDriverWait(driver, within, poll_frequency=0.3).until(attempt, message=f"waiting for {what}")


def text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def sign_in(
    driver: WebDriver, stack: RunningStack, user: str, password: str = DEMO_PASSWORD, *, refused: bool = False
) -> None:
    """Sign in through the form, and (unless it is to be refused) wait until the session is there:
    a page asked for before the login's answer arrives would cancel it and meet the sign-in page."""
    driver.get(stack.url("/login"))  # cookies are deleted on our origin (on a blank page chromedriver errs)
    driver.delete_all_cookies()
    driver.get(stack.url("/login"))
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    if not refused:
        until(
            driver,
            lambda d: d.get_cookie("mediaops_session") is not None and not d.current_url.endswith("/login"),
            f"{user} signed in",
        )


def shot(driver: WebDriver, name: str) -> Path:
    """A screenshot of the whole page (the window grown to its height) under tests/output/console."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1100, min(int(height) + 40, 6000)))
    path = output_folder("console") / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    driver.set_window_size(1280, 1100)
    return path


def test_a_wrong_password_is_refused(stack: RunningStack, browser: WebDriver) -> None:
    sign_in(browser, stack, "demo.content_specialist", "not-the-password", refused=True)
    until(browser, lambda d: "用户名或密码不正确" in text(d), "the refusal")
    assert browser.current_url.endswith("/login")
    assert not browser.get_cookie("mediaops_session")


def test_the_review_chain_and_the_sla_board_in_the_browser(stack: RunningStack, browser: WebDriver) -> None:
    # the content specialist submits a company-project article and sees what the checks said
    sign_in(browser, stack, "demo.content_specialist")
    until(browser, lambda d: "我的工作" in text(d), "the specialist's work page")
    session = browser.get_cookie("mediaops_session")
    assert session
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    browser.get(stack.url("/console/articles/new"))
    browser.find_element(By.ID, "title").send_keys(TITLE)
    browser.find_element(By.ID, "body").send_keys(
        f'<p>今日新园区项目开工。</p><img src="{stack.fakes}/assets/a.jpg">'
    )
    browser.find_element(By.CSS_SELECTOR, "#category option[value=company_news]").click()
    browser.find_element(By.ID, "project").click()
    browser.find_element(By.ID, "pf-website").click()
    browser.find_element(By.ID, "pf-wechat").click()
    browser.find_element(By.ID, "source").send_keys("市场部")
    browser.find_element(By.CSS_SELECTOR, "form.article-form button[type=submit]").click()
    until(
        browser, lambda d: "/console/articles/" in d.current_url and "new" not in d.current_url, "the article"
    )
    article_url = browser.current_url
    until(browser, lambda d: "内容检查通过" in text(d), "the check result")
    assert "R-LAWFUL" in text(browser)
    assert "等待运营经理" in text(browser)

    # the operations manager finds it in 我的工作, with when it reminds and escalates, and approves
    sign_in(browser, stack, "demo.operations_manager")
    until(browser, lambda d: TITLE in text(d), "the approval in 我的工作")
    page = text(browser)
    assert "待我审批" in page
    assert "提醒于" in page
    assert "升级于" in page
    assert "P-APPROVAL-REMIND" in page
    shot(browser, "my-work-operations-manager")
    card = browser.find_element(By.XPATH, f"//article[contains(@class,'card')][.//a[text()='{TITLE}']]")
    card.find_element(By.CSS_SELECTOR, "button[name=decision][value=approve]").click()
    until(browser, lambda d: "已批准" in text(d), "the approval's answer")
    until(browser, lambda d: "等待总经理" in text(d), "the general manager's turn")

    # the general manager confirms (R-REVIEW-PROJECT)
    sign_in(browser, stack, "demo.general_manager")
    until(browser, lambda d: TITLE in text(d), "the confirmation in 我的工作")
    browser.find_element(
        By.XPATH, f"//article[contains(@class,'card')][.//a[text()='{TITLE}']]"
    ).find_element(By.CSS_SELECTOR, "form[action$='/confirm'] button[type=submit]").click()
    until(browser, lambda d: "总经理已确认" in text(d), "the confirmation's answer")

    # the article's page shows it published on the website and WeChat (refreshed by htmx)
    browser.get(article_url)
    until(
        browser,
        lambda d: all(
            "row-published" in (d.find_element(By.ID, f"pub-{p}").get_attribute("class") or "")
            for p in ("website", "wechat")
        ),
        "both publications",
        within=120,
    )
    page = text(browser)
    assert "已发布" in page
    assert "R-REVIEW-PROJECT" in page
    assert "在 Temporal 中查看" in page
    shot(browser, "article-published")

    # a follower writes on WeChat: the message is on the SLA board, and is answered there
    sent = cli(stack.env, "dev", "wechat-message", "--account", "demo", "--from", "o_follower1",
               "--text", "请问新园区什么时候开放参观？", "--msg-id", "9001")  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    sign_in(browser, stack, "demo.channel_specialist")
    browser.get(stack.url("/console/inquiries"))
    until(browser, lambda d: "新园区什么时候开放参观" in text(d), "the inquiry on the board", within=60)
    assert "剩 11 小时" in text(browser) or "剩 12 小时" in text(browser)
    shot(browser, "sla-board")
    browser.find_element(By.PARTIAL_LINK_TEXT, "新园区什么时候开放参观").click()
    browser.find_element(By.ID, "reply-text").send_keys("您好，新园区将于下月开放参观。")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/reply'] button[type=submit]").click()
    until(browser, lambda d: "答复已发出" in text(d), "the reply's answer")
    until(browser, lambda d: "已答复" in text(d), "the inquiry answered")
    state = httpx.get(f"{stack.fakes}/wechat/__fake__/state", timeout=10).json()
    assert any("新园区将于下月开放参观" in str(m) for m in state["messages_sent"]), state["messages_sent"]


def test_a_promotion_on_the_calendar(stack: RunningStack, browser: WebDriver) -> None:
    sign_in(browser, stack, "demo.promotion_specialist")
    browser.get(stack.url("/console/calendar"))
    starts = (datetime.now(BEIJING) + timedelta(days=10)).replace(hour=10, minute=0)
    month = starts.strftime("%Y-%m")
    browser.get(stack.url(f"/console/calendar?month={month}"))
    browser.find_element(By.ID, "p-name").send_keys("双十二会员日")
    set_local(browser, "p-start", starts)
    set_local(browser, "p-end", starts + timedelta(days=2))
    browser.find_element(By.CSS_SELECTOR, "form[action='/console/calendar/promotions'] button").click()
    until(browser, lambda d: "促销已计划" in text(d), "the plan's answer")
    page = text(browser)
    assert "双十二会员日" in page
    assert "预告截止" in page
    assert "未发布" in page
    shot(browser, "promotion-calendar")


def set_local(driver: WebDriver, field: str, moment: datetime) -> None:
    """A datetime-local input's value, set as the browser's own picker would."""
    driver.execute_script(
        "document.getElementById(arguments[0]).value = arguments[1]", field, moment.strftime("%Y-%m-%dT%H:%M")
    )


def test_a_form_without_its_csrf_token_is_refused(stack: RunningStack, browser: WebDriver) -> None:
    sign_in(browser, stack, "demo.operations_manager")
    until(browser, lambda d: "我的工作" in text(d), "the manager's work page")
    # the same form the page has, posted without the hidden csrf_token (what a page elsewhere would send)
    browser.execute_script(
        """const f = document.createElement('form'); f.method = 'post';
           f.action = '/console/calendar/promotions';
           const i = document.createElement('input'); i.name = 'name'; i.value = 'forged'; f.appendChild(i);
           document.body.appendChild(f); f.submit();"""
    )
    until(browser, lambda d: "请求被拒绝" in text(d), "the refusal")
    assert "CSRF" in text(browser)
    cookie = browser.get_cookie("mediaops_session")
    assert cookie
    forged = httpx.post(
        stack.url("/console/calendar/promotions"),
        data={"name": "forged", "csrf_token": "not-this-sessions"},
        cookies={"mediaops_session": cookie["value"]},
        timeout=10,
    )
    assert forged.status_code == 403
    listed = httpx.get(
        stack.url("/promotions"), headers={"Authorization": f"Bearer {token(stack, 'operations_manager')}"}
    ).json()
    assert not any(p["name"] == "forged" for p in listed)


def token(stack: RunningStack, role: str) -> str:
    return cli(stack.env, "dev", "token", role).stdout.strip()
