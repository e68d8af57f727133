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


RULE_TITLES: dict[RuleId, str] = {
    RuleId.REVIEW_ALL: "每条发布内容须经运营经理审核",
    RuleId.REVIEW_PROJECT: "涉及公司项目的内容须经总经理确认",
    RuleId.REVIEW_STRICT: "网站内容须经运营经理审核并经总经理确认（政策选项）",
    RuleId.CLASSIFIED: "一般性信息只需运营经理审核",
    RuleId.ACCOUNTABLE: "作者对内容的真实可靠负责，作者、审核人、来源和编辑均须留痕",
    RuleId.LAWFUL: "内容须合法，避免带情绪的个人观点",
    RuleId.NO_INSIDE: "不得发布未公开的经营或内部信息",
    RuleId.LENGTH: "动态信息的篇幅限制（政策选项）",
    RuleId.LAYOUT_EVE: "微信排版须在发布前一天完成（政策选项）",
    RuleId.INQUIRY_12H: "用户留言和咨询须在 12 小时内答复并登记",
    RuleId.INQUIRY_SAMEDAY: "书面咨询当天答复（政策选项）",
    RuleId.ESCALATE_4H: "重要事件须在 4 小时内上报（政策选项）",
    RuleId.PROMO_3D: "重大促销活动须在开始前至少 3 天发布",
    RuleId.NEWS_3WD: "重大新闻或活动须在结束后 3 个工作日内配图报道",
    RuleId.CADENCE_WEB: "网站每周至少更新 3 次",
    RuleId.CADENCE_DAILY: "各新媒体平台每天更新",
    RuleId.CADENCE_MP: "小程序企业朋友圈和招聘栏目按期更新",
    RuleId.FIXED_MONTHLY: "固定栏目每月检查更新",
    RuleId.KPI: "各项规定的执行情况计入负责人的绩效考核",
    RuleId.WEEKLY: "每周一 14:30 周例会对比各平台数据",
    RuleId.MONTHLY: "每月 1 日 14:30 月例会对比各平台数据",
    RuleId.SITE_QUARTERLY: "每季度网站管理会议（政策选项）",
    RuleId.ACCOUNTS: "官方账号由部门统一开设和管理",
    RuleId.SECRETS: "管理账号和密码的知悉范围严格限定",
    RuleId.NO_PERSONAL: "公司平台不得推广个人账号",
    RuleId.DESIGN: "产品设计申请单须由申请部门负责人签字",
    RuleId.QUOTA: "各栏目每月、每年的供稿数量",
    RuleId.WORKING_HOURS: "工作时间为工作日 09:00–18:00（北京时间）",
    RuleId.APPROVAL_REMIND: "待审内容 4 个工作小时后提醒，1 个工作日后升级",
    RuleId.INQUIRY_WARN: "咨询到期前 2 小时预警",
    RuleId.REPLY_WINDOW: "平台回复窗口（微信 48 小时、微博 72 小时）关闭前 6 小时升级",
    RuleId.PROMO_REMIND: "促销开始前 7 天和 5 天提醒负责人和运营经理",
    RuleId.NEWS_REMIND: "重大活动报道在第一个工作日结束时提醒负责人",
    RuleId.CADENCE_CHECK: "每天 20:00 检查更新频率，24:00 结算",
    RuleId.EVENT_DAY_END: "“N 个工作日内”截止于第 N 个工作日 24:00",
}
"""Each rule in the words the department's staff read it (the console shows them beside the id)."""
