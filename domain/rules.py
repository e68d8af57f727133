"""The catalogue of rule ids from the RULEBOOK.

Code, policy, events, errors and reports cite these ids; keeping them in one enum means a typo in
a rule id is a type error, not a silently wrong audit report.
"""

from enum import StrEnum


class RuleId(StrEnum):
    """Every rule of docs/RULEBOOK.md, by the id the department uses."""

    REVIEW_ALL = "R-REVIEW-ALL"
    REVIEW_PROJECT = "R-REVIEW-PROJECT"
    REVIEW_STRICT = "R-REVIEW-STRICT"
    CLASSIFIED = "R-CLASSIFIED"
    ACCOUNTABLE = "R-ACCOUNTABLE"
    LAWFUL = "R-LAWFUL"
    NO_INSIDE = "R-NO-INSIDE"
    LENGTH = "R-LENGTH"
    LAYOUT_EVE = "R-LAYOUT-EVE"
    INQUIRY_12H = "R-INQUIRY-12H"
    INQUIRY_SAMEDAY = "R-INQUIRY-SAMEDAY"
    ESCALATE_4H = "R-ESCALATE-4H"
    PROMO_3D = "R-PROMO-3D"
    NEWS_3WD = "R-NEWS-3WD"
    CADENCE_WEB = "R-CADENCE-WEB"
    CADENCE_DAILY = "R-CADENCE-DAILY"
    CADENCE_MP = "R-CADENCE-MP"
    FIXED_MONTHLY = "R-FIXED-MONTHLY"
    KPI = "R-KPI"
    WEEKLY = "R-WEEKLY"
    MONTHLY = "R-MONTHLY"
    SITE_QUARTERLY = "R-SITE-QUARTERLY"
    ACCOUNTS = "R-ACCOUNTS"
    SECRETS = "R-SECRETS"
    NO_PERSONAL = "R-NO-PERSONAL"
    DESIGN = "R-DESIGN"
    QUOTA = "R-QUOTA"
    WORKING_HOURS = "P-WORKING-HOURS"
    APPROVAL_REMIND = "P-APPROVAL-REMIND"
    INQUIRY_WARN = "P-INQUIRY-WARN"
    REPLY_WINDOW = "P-REPLY-WINDOW"
    PROMO_REMIND = "P-PROMO-REMIND"
    NEWS_REMIND = "P-NEWS-REMIND"
    CADENCE_CHECK = "P-CADENCE-CHECK"
    EVENT_DAY_END = "P-EVENT-DAY-END"
