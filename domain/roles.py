"""The roles of the RULEBOOK and the one table of who may do what.

The API checks this table before it acts, and the workflows' update validators check it again,
so a permission can only be changed here, in one place, with the rule that grants it beside it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import PermissionDenied
from domain.rules import RuleId


class Role(StrEnum):
    CONTENT_SPECIALIST = "content_specialist"
    CHANNEL_SPECIALIST = "channel_specialist"
    PROMOTION_SPECIALIST = "promotion_specialist"
    OPERATIONS_MANAGER = "operations_manager"
    GENERAL_MANAGER = "general_manager"
    AUDITOR = "auditor"


ROLE_TITLES: dict[Role, str] = {
    Role.CONTENT_SPECIALIST: "内容运营专员 content operations specialist",
    Role.CHANNEL_SPECIALIST: "信息渠道运营专员 information channel specialist",
    Role.PROMOTION_SPECIALIST: "推广运营专员 promotion specialist",
    Role.OPERATIONS_MANAGER: "运营经理 operations manager",
    Role.GENERAL_MANAGER: "总经理 general manager",
    Role.AUDITOR: "read-only auditor",
}


class Permission(StrEnum):
    """Actions people take; each is granted to roles by exactly one rule below."""

    ARTICLE_READ = "article.read"
    ARTICLE_SUBMIT = "article.submit"
    ARTICLE_REVISE = "article.revise"
    ARTICLE_CHANGE_OTHERS = "article.change_others"
    ARTICLE_WITHDRAW = "article.withdraw"
    ARTICLE_REVIEW = "article.review"
    ARTICLE_CONFIRM = "article.confirm"
    ARTICLE_RECONCILE = "article.reconcile"
    INQUIRY_READ = "inquiry.read"
    INQUIRY_CREATE = "inquiry.create"
    INQUIRY_ASSIGN = "inquiry.assign"
    INQUIRY_REPLY = "inquiry.reply"
    INQUIRY_CLOSE = "inquiry.close"
    INQUIRY_ESCALATE = "inquiry.escalate"
    PROMOTION_READ = "promotion.read"
    PROMOTION_PLAN = "promotion.plan"
    COVERAGE_READ = "coverage.read"
    COVERAGE_REPORT = "coverage.report"
    REPORT_READ = "report.read"
    REPORT_MAKE = "report.make"
    ACTIONS_RECORD = "actions.record"
    DEPARTMENT_MANAGE = "department.manage"
    KPI_READ = "kpi.read"
    AUDIT_READ = "audit.read"
    PAYLOADS_READ = "payloads.read"
    PAYLOADS_WRITE = "payloads.write"
    POLICY_READ = "policy.read"
    USERS_READ = "users.read"


@dataclass(frozen=True)
class Grant:
    roles: frozenset[Role]
    rule: RuleId
    why: str


_ALL = frozenset(Role)
_STAFF = frozenset(
    {Role.CONTENT_SPECIALIST, Role.CHANNEL_SPECIALIST, Role.PROMOTION_SPECIALIST, Role.OPERATIONS_MANAGER}
)
_MANAGERS = frozenset({Role.OPERATIONS_MANAGER, Role.GENERAL_MANAGER})

PERMISSIONS: dict[Permission, Grant] = {
    Permission.ARTICLE_READ: Grant(_ALL, RuleId.ACCOUNTABLE, "every post's record is open to the department"),
    Permission.ARTICLE_SUBMIT: Grant(_STAFF, RuleId.ACCOUNTABLE, "authors submit and answer for their posts"),
    Permission.ARTICLE_REVISE: Grant(_STAFF, RuleId.ACCOUNTABLE, "authors revise their own posts"),
    Permission.ARTICLE_WITHDRAW: Grant(_STAFF, RuleId.ACCOUNTABLE, "an author may withdraw a post"),
    Permission.ARTICLE_CHANGE_OTHERS: Grant(
        frozenset({Role.OPERATIONS_MANAGER}),
        RuleId.ACCOUNTABLE,
        "only the manager revises, withdraws or reschedules someone else's post",
    ),
    Permission.ARTICLE_REVIEW: Grant(
        frozenset({Role.OPERATIONS_MANAGER}), RuleId.REVIEW_ALL, "the operations manager reviews every post"
    ),
    Permission.ARTICLE_CONFIRM: Grant(
        frozenset({Role.GENERAL_MANAGER}), RuleId.REVIEW_PROJECT, "the general manager confirms project posts"
    ),
    Permission.ARTICLE_RECONCILE: Grant(
        _STAFF, RuleId.ACCOUNTABLE, "a person resolves a publication whose outcome is unknown"
    ),
    Permission.INQUIRY_READ: Grant(_ALL, RuleId.INQUIRY_12H, "the consultation record is kept for all"),
    Permission.INQUIRY_CREATE: Grant(_STAFF, RuleId.INQUIRY_12H, "inquiries by phone or mail are recorded"),
    Permission.INQUIRY_ASSIGN: Grant(_STAFF, RuleId.INQUIRY_12H, "staff route inquiries to whoever answers"),
    Permission.INQUIRY_ESCALATE: Grant(
        _STAFF, RuleId.ESCALATE_4H, "whoever handles an inquiry reports an important one up"
    ),
    Permission.INQUIRY_REPLY: Grant(
        _STAFF | {Role.GENERAL_MANAGER}, RuleId.INQUIRY_12H, "staff answer user interaction"
    ),
    Permission.INQUIRY_CLOSE: Grant(
        frozenset({Role.OPERATIONS_MANAGER}),
        RuleId.INQUIRY_12H,
        "closing an inquiry without a reply is the manager's call alone",
    ),
    Permission.PROMOTION_READ: Grant(_ALL, RuleId.PROMO_3D, "promotion plans are open to the department"),
    Permission.PROMOTION_PLAN: Grant(
        frozenset({Role.PROMOTION_SPECIALIST, Role.OPERATIONS_MANAGER}),
        RuleId.PROMO_3D,
        "promotions are planned by the promotion specialist and the manager",
    ),
    Permission.COVERAGE_READ: Grant(_ALL, RuleId.NEWS_3WD, "event write-ups are open to the department"),
    Permission.COVERAGE_REPORT: Grant(
        _STAFF | _MANAGERS, RuleId.NEWS_3WD, "anyone who saw a major event may report it"
    ),
    Permission.REPORT_READ: Grant(_ALL, RuleId.WEEKLY, "weekly and monthly figures are discussed by all"),
    Permission.REPORT_MAKE: Grant(
        _MANAGERS, RuleId.WEEKLY, "the managers have a meeting's report made again or ahead of time"
    ),
    Permission.ACTIONS_RECORD: Grant(
        frozenset({Role.OPERATIONS_MANAGER}),
        RuleId.WEEKLY,
        "the operations manager sets the meeting's action plan",
    ),
    Permission.DEPARTMENT_MANAGE: Grant(
        frozenset({Role.OPERATIONS_MANAGER}),
        RuleId.KPI,
        "the department assigns who owns each platform, section and fixed column",
    ),
    Permission.KPI_READ: Grant(
        _MANAGERS | {Role.AUDITOR}, RuleId.KPI, "performance reviews are the managers' and the auditor's"
    ),
    Permission.AUDIT_READ: Grant(
        _MANAGERS | {Role.AUDITOR}, RuleId.KPI, "audits of whether the rules were kept"
    ),
    Permission.PAYLOADS_READ: Grant(
        _MANAGERS | {Role.AUDITOR},
        RuleId.SECRETS,
        "workflow payloads (followers' messages, drafts) are read decoded in the Temporal UI by few",
    ),
    Permission.PAYLOADS_WRITE: Grant(
        frozenset({Role.OPERATIONS_MANAGER}),
        RuleId.ACCOUNTS,
        "the manager, who owns the accounts, seals what ops send to a workflow from the Temporal UI",
    ),
    Permission.POLICY_READ: Grant(_ALL, RuleId.ACCOUNTS, "everyone may read the rules in force"),
    Permission.USERS_READ: Grant(
        frozenset({Role.OPERATIONS_MANAGER, Role.AUDITOR}),
        RuleId.ACCOUNTS,
        "the department manages who holds which account",
    ),
}


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Roles from their ids; an unknown id is a ValueError naming it."""
    roles = set()
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role '{name}' (known roles: {known})") from None
    return frozenset(roles)


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    held = frozenset(roles)
    return frozenset(p for p, grant in PERMISSIONS.items() if grant.roles & held)


def require(roles: Iterable[Role], permission: Permission) -> None:
    """Refuse, citing the granting rule, unless one of the roles holds the permission."""
    held = frozenset(roles)
    grant = PERMISSIONS[permission]
    if not grant.roles & held:
        raise PermissionDenied(grant.rule, permission.value, frozenset(r.value for r in held))
