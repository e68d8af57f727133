"""Content checks before review: forbidden words in any spelling, length, attribution, images.

R-LAWFUL, R-NO-INSIDE, R-NO-PERSONAL: a versioned word list, matched with Aho–Corasick after both
the text and the words are normalised (NFKC, traditional to simplified with OpenCC, lower case,
spaces and punctuation removed), so "內.幕", "内 幕" and full-width letters are caught alike.
R-LENGTH (a policy option) and each platform's own limits; R-ACCOUNTABLE: author, source and
editor must be named. A failure goes back to the author with the rule ids; nothing is trimmed.

What a platform will refuse for sure is refused here, at submission and at each revision, and not
after the approvals: every image must be one the worker may fetch for each account the article
publishes on (absolute http(s), on a public host after DNS resolution or on the account's image
hosts: R-ACCOUNTS, security review H4), in a format the platform takes, and a WeChat post needs a
cover (an image, or the account's default cover). Images are not fetched here, only their hosts
resolved: the worker fetches them, through the same checks, when it publishes. A message names
the image by its position and host, never an address it resolved to.
"""

import asyncio
import unicodedata
from collections.abc import Collection, Mapping
from functools import cache
from importlib import resources

import ahocorasick
import httpx
import opencc
from pydantic import BaseModel, Field
from temporalio import activity

from activities.platforms.accounts import Account, Accounts
from activities.platforms.content import image_sources, images, plain_text, sanitise
from activities.platforms.images import (
    ImageHosts,
    ImageRefused,
    checked_addresses,
    host_and_port,
    image_url,
    named_format_refused,
    place,
)
from activities.platforms.wechat import IMAGE_FORMATS as WECHAT_IMAGE_FORMATS
from domain.articles import Content, Problem
from domain.counting import characters, length_problems
from domain.platforms import Platform
from domain.policy import Policy
from domain.rules import RuleId

WORDLIST = "forbidden-2026.11.txt"
Route = tuple[str, int, ImageHosts]
"""Where an image would be fetched from: host, port, and the allowlist it is fetched under."""
_DROP = ("P", "S", "Z", "C")  # punctuation, symbols, separators, control and format (zero-width) characters


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _converter().convert(text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in _DROP)


@cache
def _automaton(name: str) -> "ahocorasick.Automaton":
    automaton = ahocorasick.Automaton()
    for line in (
        resources.files("activities").joinpath("wordlists", name).read_text(encoding="utf-8").splitlines()
    ):
        if not line.strip() or line.startswith("#"):
            continue
        rule, _, word = line.partition("\t")
        automaton.add_word(normalise(word), (RuleId(rule), word))
    automaton.make_automaton()
    return automaton


def forbidden_words(text: str, wordlist: str = WORDLIST) -> list[Problem]:
    found: dict[str, Problem] = {}
    for _, (rule, word) in _automaton(wordlist).iter(normalise(text)):
        found.setdefault(word, Problem(rule=rule, message=f"contains '{word}' (forbidden by {rule})"))
    return list(found.values())


class CheckRequest(BaseModel):
    content: Content
    author: str
    accounts: dict[Platform, str] = Field(default_factory=dict)
    """The account each platform publishes on (the article's own map); a platform missing here is
    checked against its first configured account, the one the API gives an article at submission."""


class CheckResult(BaseModel):
    wordlist_version: str
    problems: list[Problem]


def check(content: Content, author: str, policy: Policy) -> CheckResult:
    text = plain_text(content.body)
    problems = forbidden_words(f"{content.title}\n{text}")
    for platform in content.platforms:
        for message in length_problems(platform, title=content.title, body_text=text, body_html=content.body):
            problems.append(Problem(rule=RuleId.LENGTH, message=message))
    if policy.length.enabled:
        limit = (
            policy.length.brief_max_chars
            if content.category == "news"
            else policy.length.comprehensive_max_chars
        )
        if characters(text) > limit:
            problems.append(
                Problem(
                    rule=RuleId.LENGTH,
                    message=f"{characters(text)} characters; a {content.category} piece has at most {limit}",
                )
            )
    named = {"author": author, "source": content.source, "editor": content.editor}
    for field in policy.accountable.required_fields:
        if field in named and not named[field].strip():
            problems.append(Problem(rule=RuleId.ACCOUNTABLE, message=f"the {field} must be named"))
    return CheckResult(wordlist_version=WORDLIST.removesuffix(".txt"), problems=problems)


def _account_label(platform: Platform, account: Account | None) -> str:
    return f"the {platform} account '{account.name}'" if account else f"a {platform} account"


async def _refused(urls: Collection[httpx.URL], allowlists: Collection[ImageHosts]) -> set[Route]:
    """The (host, port, allowlist) routes the worker may not fetch from, each host resolved once
    and all of them at the same time."""
    routes = {(*host_and_port(url), hosts): url for url in urls for hosts in allowlists}

    async def refused(url: httpx.URL, hosts: ImageHosts) -> bool:
        try:
            await checked_addresses(url, hosts)
        except ImageRefused:
            return True
        return False

    answers = await asyncio.gather(*(refused(url, route[2]) for route, url in routes.items()))
    return {route for route, no in zip(routes, answers, strict=True) if no}


async def image_problems(content: Content, accounts: Mapping[Platform, Account | None]) -> list[Problem]:
    """Images an account of the article may not fetch, images in a format a platform refuses, and
    a WeChat post without a cover; `accounts` are the ones the article publishes on."""
    allowlists = {p: ImageHosts.of(a.image_hosts if a else ()) for p, a in accounts.items()}
    sources = [(position, image_url(src)) for position, src in enumerate(images(content.body), 1) if src]
    refused = await _refused({url for _, url in sources if url is not None}, set(allowlists.values()))
    problems = []
    for position, url in sources:
        if url is None:
            message = (
                f"image {position} has no absolute http(s) address: a relative, protocol-relative "
                "or mailto: source cannot be fetched"
            )
            problems.append(Problem(rule=RuleId.ACCOUNTS, message=message))
            continue
        refusing = [
            _account_label(platform, accounts[platform])
            for platform, hosts in allowlists.items()
            if (*host_and_port(url), hosts) in refused
        ]
        if refusing:
            message = f"image {position} ({place(url)}) is not on a public host, nor on the image hosts of "
            problems.append(Problem(rule=RuleId.ACCOUNTS, message=message + ", ".join(refusing)))
        if Platform.WECHAT in accounts and named_format_refused(url, WECHAT_IMAGE_FORMATS):
            message = f"wechat: image {position} ({place(url)}) is named as neither a JPEG nor a PNG"
            problems.append(Problem(rule=RuleId.LENGTH, message=message + ", the only formats WeChat takes"))
    if Platform.WECHAT in accounts:
        account = accounts[Platform.WECHAT]
        if not image_sources(sanitise(content.body)) and not (account and account.default_cover):
            message = (
                "wechat: an article needs a cover image: add an image to the post (the first one is "
                f"the cover), or give {_account_label(Platform.WECHAT, account)} a default cover"
            )
            problems.append(Problem(rule=RuleId.LENGTH, message=message))
    return problems


class ContentChecks:
    def __init__(self, policy: Policy, accounts: Accounts) -> None:
        self.policy = policy
        self.accounts = accounts

    def account(self, platform: Platform, name: str | None) -> Account | None:
        """The named account, or the platform's first configured one; None when there is none."""
        for account in self.accounts.all():
            if account.platform is platform and name in (None, account.name):
                return account
        return None

    @activity.defn(name="articles.check")
    async def check(self, request: CheckRequest) -> CheckResult:
        result = check(request.content, request.author, self.policy)
        targets = {p: self.account(p, request.accounts.get(p)) for p in request.content.platforms}
        unknown = {p for p, account in targets.items() if account is None and p in request.accounts}
        problems = [
            *result.problems,
            *(
                Problem(
                    rule=RuleId.ACCOUNTS,
                    message=f"no {p} account named '{request.accounts[p]}' is configured",
                )
                for p in sorted(unknown)
            ),
            *await image_problems(request.content, {p: a for p, a in targets.items() if p not in unknown}),
        ]
        return result.model_copy(update={"problems": problems})
