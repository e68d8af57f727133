"""Content checks before review: forbidden words in any spelling, length, attribution.

R-LAWFUL, R-NO-INSIDE, R-NO-PERSONAL: a versioned word list, matched with Aho–Corasick after both
the text and the words are normalised (NFKC, traditional to simplified with OpenCC, lower case,
spaces and punctuation removed), so "內.幕", "内 幕" and full-width letters are caught alike.
R-LENGTH (a policy option) and each platform's own limits; R-ACCOUNTABLE: author, source and
editor must be named. A failure goes back to the author with the rule ids; nothing is trimmed.
"""

import unicodedata
from functools import cache
from importlib import resources

import ahocorasick
import opencc
from pydantic import BaseModel
from temporalio import activity

from activities.platforms.content import plain_text
from domain.articles import Content, Problem
from domain.counting import characters, length_problems
from domain.policy import Policy
from domain.rules import RuleId

WORDLIST = "forbidden-2026.11.txt"
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


class ContentChecks:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @activity.defn(name="articles.check")
    async def check(self, request: CheckRequest) -> CheckResult:
        return check(request.content, request.author, self.policy)
