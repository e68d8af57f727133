"""The RULEBOOK as typed data: every parameter a rule has, keyed by the rule's id.

Defaults are the RULEBOOK's. A department that adopts a policy option, or changes a default the
regulations leave open (the P- rules), writes it in policy.toml; the file is validated at start-up
so a typo stops the system with the key named instead of silently running on the default.
"""

import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.durations import Duration, TimeOfDay
from domain.platforms import ALL_PLATFORMS, Platform
from domain.roles import Role
from domain.rules import RuleId


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


class ReviewAll(_Params):
    """Every post is reviewed by the operations manager before it is published."""

    reviewer: Role = Role.OPERATIONS_MANAGER
    platforms: tuple[Platform, ...] = ALL_PLATFORMS


class ReviewProject(_Params):
    """A post about a company project is also confirmed by the general manager."""

    confirmer: Role = Role.GENERAL_MANAGER


class ReviewStrict(_Params):
    """Option: every post on these platforms needs the general manager's confirmation too."""

    enabled: bool = False
    platforms: tuple[Platform, ...] = (Platform.WEBSITE,)


class Classified(_Params):
    """General information is published by its owner once the manager has reviewed it."""

    categories: tuple[str, ...] = ("industry_news", "know_how", "recruitment")


class Accountable(_Params):
    """Every post records who wrote, reviewed, sourced and edited it."""

    required_fields: tuple[Literal["author", "reviewer", "source", "editor"], ...] = (
        "author",
        "reviewer",
        "source",
        "editor",
    )
    commands_valid_for: Duration = timedelta(minutes=5)
    """A person's signed command is believed this long after it was issued; an older one is refused."""
    clock_skew: Duration = timedelta(minutes=5)
    """How far a time a person gives may lie ahead of our clock (a received_at) or behind it (a
    publish_at) and still be taken as meant: clocks and typing are not exact."""
    schedule_within: Duration = timedelta(days=366)
    """A publishing time is at most this far ahead: a year's typo must not hold an approved post for years."""
    history_retention: Duration = timedelta(days=30)
    """How long Temporal keeps a closed workflow's history (the namespace's retention). The archive
    in PostgreSQL keeps every one beyond it: the record an audit replays."""
    archive_every: Duration = timedelta(minutes=5)
    """How often the workers archive the histories of workflows that closed since they last looked."""
    seal_every: Duration = timedelta(hours=1)
    """How often the heads of the hash chains are sealed outside the events table, so that a deleted
    stream or a truncated tail is found (`mediaops events verify --against`)."""


class Length(_Params):
    """Option: a news brief is at most 300 characters, a comprehensive piece 500; images are JPEG."""

    enabled: bool = False
    brief_max_chars: PositiveInt = 300
    comprehensive_max_chars: PositiveInt = 500
    image_formats: tuple[str, ...] = ("jpeg",)


class LayoutEve(_Params):
    """Option: a WeChat post's layout is finished the day before it goes out."""

    enabled: bool = False
    platforms: tuple[Platform, ...] = (Platform.WECHAT,)


class Inquiry12h(_Params):
    """A user's message or inquiry is answered within 12 hours and recorded."""

    within: Duration = _hours(12)
    clock: Literal["wall", "working_hours"] = "wall"
    comment_poll_every: Duration = timedelta(minutes=10)
    """Comments are not pushed by WeChat, the website or Weibo: how often they are read."""
    reopen_within: Duration = _hours(24)
    """A user who writes again this soon after the answer reopens the inquiry with a new clock;
    later, the message is a new inquiry."""
    backfill_after: Duration = timedelta(days=7)
    """An inquiry recorded by hand that was received longer ago than this is a back-filled record:
    its clock is long past, so it is taken only when the person says so (`backfilled`)."""


class InquirySameDay(_Params):
    """Option: written inquiries are answered the same day; complaints get staff within 3 days."""

    enabled: bool = False
    complaint_dispatch_within: Duration = timedelta(days=3)


class Escalate4h(_Params):
    """Option: important events are reported up within 4 hours."""

    enabled: bool = False
    within: Duration = _hours(4)
    to: Role = Role.OPERATIONS_MANAGER
    report_unanswered_after: Duration = timedelta(hours=3, minutes=30)
    """With the option, an inquiry still unanswered this long after it came is reported up by the
    system, early enough that the report itself is within `within`."""

    @model_validator(mode="after")
    def _reports_in_time(self) -> "Escalate4h":
        if self.report_unanswered_after > self.within:
            raise ValueError("report_unanswered_after must not be later than within")
        return self


class Promo3d(_Params):
    """A major promotion is announced at least 3 days before it starts."""

    lead: Duration = timedelta(days=3)
    platforms: tuple[Platform, ...] = ALL_PLATFORMS


class News3wd(_Params):
    """A major event is written up and uploaded within 3 working days after it ends."""

    within_working_days: PositiveInt = 3
    platforms: tuple[Platform, ...] = ALL_PLATFORMS
    """Where a write-up goes unless its event names others: the website and the new media."""
    late_recorded_for: Duration = timedelta(days=30)
    """How long after the due time a write-up that is still missing is watched for: one that comes
    later than the due time is recorded as late, with how late, until then."""


class CadenceWeb(_Params):
    """The website is updated at least 3 times a week."""

    min_per_week: PositiveInt = 3


Days = Literal["every_day", "working_days"]
"""Which days a daily cadence is owed on: every calendar day, as the rule says, or working days."""


class CadenceDaily(_Params):
    """Each new-media platform is updated once a day."""

    min_per_day: PositiveInt = 1
    platforms: tuple[Platform, ...] = (
        Platform.WECHAT,
        Platform.WEIBO,
        Platform.ZHIHU,
        Platform.BAIJIAHAO,
        Platform.SOHU,
        Platform.TOUTIAO,
    )
    """The new-media platforms the department posts to (the mini program's sections have their own
    rule, R-CADENCE-MP; Baidu Zhidao is for answering, not posting)."""
    days: Days = "every_day"


class CadenceMp(_Params):
    """The mini program's company moments and recruitment information are each updated daily."""

    sections: tuple[str, ...] = ("company_moments", "recruitment")
    min_per_day: PositiveInt = 1
    days: Days = "every_day"


class FixedMonthly(_Params):
    """Fixed columns are checked and updated every month."""

    min_per_month: PositiveInt = 1


class Kpi(_Params):
    """Whether each cadence and deadline rule was kept counts in the owner's review."""

    counted_rules: tuple[RuleId, ...] = (
        RuleId.CADENCE_WEB,
        RuleId.CADENCE_DAILY,
        RuleId.CADENCE_MP,
        RuleId.FIXED_MONTHLY,
        RuleId.INQUIRY_12H,
        RuleId.PROMO_3D,
        RuleId.NEWS_3WD,
    )


class Accounts(_Params):
    """The department's platform accounts are used within each platform's API rate (calls per second)."""

    status_poll_every: Duration = timedelta(minutes=1)
    """How soon a publication still pending is first asked about again, when no callback has said;
    each further ask waits twice as long, up to `status_poll_at_most`."""
    status_poll_at_most: Duration = timedelta(hours=1)
    pending_at_most: Duration = timedelta(days=2)
    """A publication the platform still calls pending after this is handed to a person (unconfirmed)."""
    figures_at_a_moment_within: Duration = timedelta(days=1)
    """A figure a platform gives only as it is now (Weibo's followers) stands for a period that
    ended at most this long ago; for an older one it is missing, not a wrong number."""

    calls_per_second: dict[Platform, float] = Field(
        default_factory=lambda: {
            Platform.WECHAT: 5.0,
            Platform.MINIPROGRAM: 5.0,
            Platform.WEBSITE: 5.0,
            Platform.WEIBO: 1.0,
            Platform.BAIJIAHAO: 1.0,
            Platform.ZHIHU: 5.0,
            Platform.SOHU: 5.0,
            Platform.TOUTIAO: 5.0,
            Platform.BAIDU_ZHIDAO: 5.0,
        }
    )

    @field_validator("calls_per_second")
    @classmethod
    def _positive(cls, value: dict[Platform, float]) -> dict[Platform, float]:
        for platform, rate in value.items():
            if rate <= 0:
                raise ValueError(f"{platform}: a rate must be above 0")
        return value


class Secrets(_Params):
    """The circle that knows the department's passwords is small: people sign in to the console with
    their own password, guessing one is slowed to a stop, and a session does not outlive its use."""

    login_failures_at_most: PositiveInt = 5
    """Failed sign-ins for one username, within `login_locked_for`, before it is locked."""
    login_locked_for: Duration = timedelta(minutes=15)
    """How long a locked username stays locked (and the window its failures are counted in)."""
    session_idle: Duration = timedelta(hours=8)
    """A console session unused this long ends."""
    session_at_most: Duration = timedelta(hours=12)
    """A console session ends this long after sign-in, however much it is used."""
    password_min_length: PositiveInt = 12


class Meeting(_Params):
    """When a meeting sits, how long before it its report is made, and what fall is a problem."""

    at: TimeOfDay = timedelta(hours=14, minutes=30)
    prepare_before: Duration = timedelta(minutes=10)
    """The report is made this long before the meeting (its schedule fires then), the same day."""
    falls_by_pct: float = Field(default=20.0, gt=0)
    """A figure that fell by more than this percentage against the period before is a problem."""

    @model_validator(mode="after")
    def _prepared_the_same_day(self) -> "Meeting":
        if self.prepare_before > self.at:
            raise ValueError(
                "prepare_before must not reach back before the meeting's day (it is at most `at`)"
            )
        return self


class Weekly(Meeting):
    """Every Monday at 14:30 last week's figures are compared with the week before."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"


class Monthly(Meeting):
    """On the 1st of each month at 14:30 the month's figures are compared with the month before."""

    day_of_month: int = Field(default=1, ge=1, le=28)


class SiteQuarterly(Monthly):
    """Option: a website management meeting each quarter, on a day of its first month."""

    enabled: bool = False


class Quota(_Params):
    """Option: minimum numbers of submitted items per section and per unit."""

    enabled: bool = False
    section_per_month: NonNegativeInt = 3
    section_per_year: NonNegativeInt = 30
    unit_per_week: NonNegativeInt = 2
    unit_per_month: NonNegativeInt = 8


class WorkingHours(_Params):
    """Working hours on working days, used by the working-hours options of the deadline rules."""

    start: TimeOfDay = timedelta(hours=9)
    end: TimeOfDay = timedelta(hours=18)
    unknown_year: Literal["fallback_mon_fri", "error"] = "fallback_mon_fri"
    """A year China's calendar does not know yet: a flagged Monday-to-Friday guess, or an error."""
    holidays: tuple[date, ...] = ()
    """Official holidays announced but not yet in the installed calendar (e.g. next year's)."""
    workdays: tuple[date, ...] = ()
    """Make-up working days (调休) announced but not yet in the installed calendar."""

    @model_validator(mode="after")
    def _opens_before_closing(self) -> "WorkingHours":
        if self.start >= self.end:
            raise ValueError("start must be before end")
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError(f"{', '.join(sorted(map(str, both)))} cannot be both a holiday and a workday")
        return self


class ApprovalRemind(_Params):
    """A pending approval reminds its approver, then escalates."""

    remind_after_working_hours: Duration = _hours(4)
    escalate_after_working_days: PositiveInt = 1
    review_escalates_to: Role = Role.GENERAL_MANAGER
    confirmation_reported_to: Role = Role.OPERATIONS_MANAGER


class InquiryWarn(_Params):
    """An unanswered inquiry warns this long before its deadline."""

    lead: Duration = _hours(2)


class ReplyWindow(_Params):
    """The platforms' own reply windows, escalated before they close."""

    windows: dict[Platform, Duration] = Field(
        default_factory=lambda: {Platform.WECHAT: _hours(48), Platform.WEIBO: _hours(72)}
    )
    max_replies: dict[Platform, PositiveInt] = Field(
        default_factory=lambda: {Platform.WECHAT: 5, Platform.WEIBO: 3}
    )
    escalate_before: Duration = _hours(6)


class PromoRemind(_Params):
    """A promotion's owner and the manager are reminded this long before the start."""

    before_start: tuple[Duration, ...] = (timedelta(days=7), timedelta(days=5))
    notify: tuple[Role, ...] = (Role.PROMOTION_SPECIALIST, Role.OPERATIONS_MANAGER)


class NewsRemind(_Params):
    """A major event's write-up owner is reminded at the end of this many working days."""

    after_working_days: PositiveInt = 1


class CadenceCheck(_Params):
    """Cadence is checked daily: an at-risk alert, then the day is closed."""

    at_risk_at: TimeOfDay = timedelta(hours=20)
    close_at: TimeOfDay = timedelta(hours=24)


class EventDayEnd(_Params):
    """ "Within N working days" ends at this time of the Nth working day."""

    at: TimeOfDay = timedelta(hours=24)


def _rule(model: type[_Params], rule: RuleId) -> Any:
    return Field(default_factory=model, alias=rule.value)


class Policy(BaseModel):
    """The effective policy: every rule's parameters, with the RULEBOOK's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    timezone: str = "Asia/Shanghai"
    review_all: ReviewAll = _rule(ReviewAll, RuleId.REVIEW_ALL)
    review_project: ReviewProject = _rule(ReviewProject, RuleId.REVIEW_PROJECT)
    review_strict: ReviewStrict = _rule(ReviewStrict, RuleId.REVIEW_STRICT)
    classified: Classified = _rule(Classified, RuleId.CLASSIFIED)
    accountable: Accountable = _rule(Accountable, RuleId.ACCOUNTABLE)
    length: Length = _rule(Length, RuleId.LENGTH)
    layout_eve: LayoutEve = _rule(LayoutEve, RuleId.LAYOUT_EVE)
    inquiry_12h: Inquiry12h = _rule(Inquiry12h, RuleId.INQUIRY_12H)
    inquiry_sameday: InquirySameDay = _rule(InquirySameDay, RuleId.INQUIRY_SAMEDAY)
    escalate_4h: Escalate4h = _rule(Escalate4h, RuleId.ESCALATE_4H)
    promo_3d: Promo3d = _rule(Promo3d, RuleId.PROMO_3D)
    news_3wd: News3wd = _rule(News3wd, RuleId.NEWS_3WD)
    cadence_web: CadenceWeb = _rule(CadenceWeb, RuleId.CADENCE_WEB)
    cadence_daily: CadenceDaily = _rule(CadenceDaily, RuleId.CADENCE_DAILY)
    cadence_mp: CadenceMp = _rule(CadenceMp, RuleId.CADENCE_MP)
    fixed_monthly: FixedMonthly = _rule(FixedMonthly, RuleId.FIXED_MONTHLY)
    kpi: Kpi = _rule(Kpi, RuleId.KPI)
    weekly: Weekly = _rule(Weekly, RuleId.WEEKLY)
    monthly: Monthly = _rule(Monthly, RuleId.MONTHLY)
    site_quarterly: SiteQuarterly = _rule(SiteQuarterly, RuleId.SITE_QUARTERLY)
    accounts: Accounts = _rule(Accounts, RuleId.ACCOUNTS)
    secrets: Secrets = _rule(Secrets, RuleId.SECRETS)
    quota: Quota = _rule(Quota, RuleId.QUOTA)
    working_hours: WorkingHours = _rule(WorkingHours, RuleId.WORKING_HOURS)
    approval_remind: ApprovalRemind = _rule(ApprovalRemind, RuleId.APPROVAL_REMIND)
    inquiry_warn: InquiryWarn = _rule(InquiryWarn, RuleId.INQUIRY_WARN)
    reply_window: ReplyWindow = _rule(ReplyWindow, RuleId.REPLY_WINDOW)
    promo_remind: PromoRemind = _rule(PromoRemind, RuleId.PROMO_REMIND)
    news_remind: NewsRemind = _rule(NewsRemind, RuleId.NEWS_REMIND)
    cadence_check: CadenceCheck = _rule(CadenceCheck, RuleId.CADENCE_CHECK)
    event_day_end: EventDayEnd = _rule(EventDayEnd, RuleId.EVENT_DAY_END)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule_params(self) -> Iterator[tuple[RuleId, _Params]]:
        """Each rule that has parameters, in rulebook order, with its parameters."""
        for name, field in type(self).model_fields.items():
            if field.alias is not None:
                yield RuleId(field.alias), getattr(self, name)


class PolicyError(ValueError):
    """policy.toml cannot be used; the message names every offending key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"unknown rule id '{loc[0]}' (see `mediaops policy show` for the known ids)"
        return f"{key}: unknown parameter"
    return f"{key}: {error['msg'].removeprefix('Value error, ')}"


def policy_from_mapping(data: Mapping[str, Any], source: str = "policy") -> Policy:
    """The policy with `data` (as read from TOML) over the RULEBOOK defaults."""
    try:
        return Policy.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise PolicyError(source, [_describe(e) for e in exc.errors()]) from None


def load_policy(path: Path | None) -> tuple[Policy, dict[str, Any]]:
    """The effective policy and the overrides it was built from (empty when no file is used)."""
    if path is None:
        return Policy(), {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(path), [f"not valid TOML: {exc}"]) from None
    return policy_from_mapping(data, str(path)), data


def overridden_keys(overrides: Mapping[str, Any], prefix: str = "") -> set[str]:
    """The dotted keys a policy file sets, to tell `policy show` where each value came from."""
    keys: set[str] = set()
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        keys.add(dotted)
        if isinstance(value, Mapping):
            keys |= overridden_keys(value, f"{dotted}.")
    return keys
