"""The console acts through the API's own endpoints: the same permission, the same signed command.

A console form is never a second way into a workflow. Its handler calls the endpoint the API
serves (articles.review, inquiries.reply, ...) for the signed-in person, after checking the
permission the endpoint itself declares (its `allowed(...)` dependency, read from its signature),
so a change to the permission table or to a command shows in both at once. What comes back, an
answer or a refusal (403/409/422 naming the rule and the field), becomes one `Outcome`, which the
page shows in words with the rule's id.
"""

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, get_type_hints

from fastapi import HTTPException, params
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.auth import Allowed
from api.errors import STATUS, Unreachable
from domain.errors import DomainError, refusal_of
from domain.roles import Permission, require
from domain.rules import RULE_TITLES, RuleId
from eventstore.users import User

Endpoint = Callable[..., Awaitable[Any]]

STATUS_WORDS = {
    401: "请重新登录",
    403: "没有权限",
    404: "找不到",
    409: "现在不能这样做",
    413: "内容太长",
    422: "填写的内容有误",
    503: "系统暂时无法完成，请稍后再试",
}


@dataclass(frozen=True)
class Outcome:
    """What an action came to: the endpoint's answer, or its refusal with the rule and the field."""

    status: int
    body: Any = None
    detail: str = ""
    rule: str | None = None
    field: str | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def words(self) -> str:
        """The refusal as a person reads it: what kind of no, why, and the rule (its id and words)."""
        if self.ok:
            return ""
        parts = [STATUS_WORDS.get(self.status, "未能完成")]
        if self.field:
            parts.append(f"（{self.field}）")
        if self.detail:
            parts.append(f"：{self.detail}")
        if self.rule:
            try:
                parts.append(f" — {self.rule} {RULE_TITLES[RuleId(self.rule)]}")
            except ValueError:
                parts.append(f" — {self.rule}")
        return "".join(parts)


@cache
def _gate(endpoint: Endpoint) -> tuple[str, Permission]:
    """The endpoint's person parameter and the permission its `allowed(...)` dependency requires."""
    for name, hint in get_type_hints(endpoint, include_extras=True).items():
        for meta in getattr(hint, "__metadata__", ()):
            dependency = getattr(meta, "dependency", None)
            if isinstance(dependency, Allowed):
                return name, dependency.permission
    raise TypeError(f"{endpoint.__qualname__} declares no permission")


@cache
def _checks(endpoint: Endpoint) -> dict[str, TypeAdapter[Any]]:
    """How the API validates each of the endpoint's path and query parameters (their patterns,
    bounds and types: a moment in UTC), so a value the console passes is checked the same way."""
    hints = get_type_hints(endpoint, include_extras=True)
    return {
        name: TypeAdapter(hint)
        for name, hint in hints.items()
        if name != "return"
        and any(isinstance(m, (params.Path, params.Query)) for m in getattr(hint, "__metadata__", ()))
    }


def permission_of(endpoint: Endpoint) -> Permission:
    return _gate(endpoint)[1]


def _answer(result: Any) -> Outcome:
    if not isinstance(result, Response):
        return Outcome(200, result)
    raw = bytes(result.body)
    is_json = (result.media_type or "").startswith("application/json")
    body = json.loads(raw) if is_json and raw else raw
    if result.status_code < 400:
        return Outcome(result.status_code, body)
    found = body if isinstance(body, dict) else {}
    return Outcome(
        result.status_code,
        body,
        detail=str(found.get("detail") or ""),
        rule=found.get("rule") or (found.get("rules") or [None])[0],
        field=found.get("field") or found.get("permission"),
    )


def _invalid(exc: ValidationError) -> Outcome:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    return Outcome(422, detail=str(first["msg"]), field=where)


async def act(
    who: User,
    endpoint: Endpoint,
    body: tuple[type[BaseModel], dict[str, Any]] | None = None,
    **arguments: Any,
) -> Outcome:
    """Call `endpoint` for `who`: its permission checked first, `body` (a model and the form's
    values) validated as the API would (422 naming the field), then the endpoint's own answer."""
    person, permission = _gate(endpoint)
    try:
        require(who.roles, permission)
        checks = _checks(endpoint)
        for name, value in arguments.items():
            if name in checks:
                arguments[name] = checks[name].validate_python(value)
        if body is not None:
            model, values = body
            name = next(n for n, p in inspect.signature(endpoint).parameters.items() if p.annotation is model)
            arguments[name] = model.model_validate(values)
        return _answer(await endpoint(**arguments, **{person: who}))
    except ValidationError as exc:
        return _invalid(exc)
    except (ValueError, OverflowError) as exc:  # a value no model could take (a moment out of range)
        return Outcome(422, detail=str(exc))
    except DomainError as exc:
        refusal = refusal_of(exc)
        return Outcome(
            STATUS[refusal.kind][0],
            detail=refusal.message,
            rule=refusal.rule.value,
            field=refusal.field or refusal.permission,
        )
    except HTTPException as exc:
        return Outcome(exc.status_code, detail=str(exc.detail))
    except Unreachable as exc:
        return Outcome(503, detail=f"{exc.dependency} 无响应")
