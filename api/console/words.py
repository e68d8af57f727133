"""The console's vocabulary: each status, state, category and event in the department's words.

Kept in one place so a page, a table and a flash message never call one thing two names; the
templates see every table here as a global of the same name.
"""

CATEGORY: dict[str, str] = {
    "news": "动态信息",
    "company_news": "公司新闻",
    "industry_news": "行业资讯",
    "know_how": "行业干货",
    "recruitment": "招聘",
    "promotion": "促销活动",
}
ARTICLE_STATUS: dict[str, str] = {
    "checks_failed": "检查未通过",
    "in_review": "审核中",
    "changes_requested": "待修改",
    "rejected": "已驳回",
    "withdrawn": "已撤回",
    "approved": "已批准",
    "publishing": "发布中",
    "published": "已发布",
    "needs_attention": "需人工处理",
}
INQUIRY_STATUS: dict[str, str] = {
    "open": "待答复", "at_risk": "即将超时", "breached": "已超时", "answered": "已答复", "closed": "已关闭",
}  # fmt: skip
PUBLICATION_STATE: dict[str, str] = {
    "pending": "待发布", "publishing": "发布中", "published": "已发布", "failed": "失败",
    "unconfirmed": "结果未知",
}  # fmt: skip
ANNOUNCEMENT_STATE: dict[str, str] = {
    "missing": "未发布",
    "in_progress": "进行中",
    "announced": "已发布",
    "late": "迟发",
}
OBLIGATION_STATUS: dict[str, str] = {
    "planned": "计划中", "announced": "已预告", "met": "已达标", "breached": "未达标", "cancelled": "已取消",
    "open": "待报道", "published": "已报道",
}  # fmt: skip
EVENT_WORDS: dict[str, str] = {
    "article.submitted": "提交",
    "article.revised": "修改",
    "article.checks_passed": "内容检查通过",
    "article.checks_failed": "内容检查未通过",
    "article.review_requested": "等待审核",
    "article.approved": "批准",
    "article.changes_requested": "要求修改",
    "article.rejected": "驳回",
    "article.withdrawn": "撤回",
    "article.publish_scheduled": "定时发布",
    "article.publish_started": "开始发布",
    "article.publication_recorded": "发布结果",
    "article.reminded": "提醒审核人",
    "article.escalated": "升级",
    "command.refused": "指令被拒绝",
    "process.needs_attention": "需要人工处理",
    "process.resumed": "恢复处理",
    "inquiry.received": "收到咨询",
    "inquiry.assigned": "分派",
    "inquiry.replied": "答复",
    "inquiry.breached": "超时",
    "inquiry.warned": "即将超时预警",
    "inquiry.escalated": "上报",
    "inquiry.closed": "关闭",
    "inquiry.reopened": "重新打开",
    "inquiry.followed_up": "用户追问",
    "inquiry.reply_failed": "答复失败",
    "inquiry.reply_reconciled": "核实答复",
    "inquiry.sla_started": "开始计时",
    "inquiry.window_closing": "平台回复窗口即将关闭",
    "inquiry.window_closed": "平台回复窗口已关闭",
    "promotion.planned": "计划促销",
    "promotion.announced": "已预告",
    "promotion.announcement_linked": "关联预告文章",
    "promotion.breached": "未按时预告",
    "promotion.cancelled": "取消",
    "promotion.met": "按时预告",
    "promotion.reminded": "提醒",
    "promotion.rescheduled": "改期",
    "writeup.reported": "登记重大活动",
    "writeup.article_linked": "关联报道文章",
    "writeup.due": "报道截止时间",
    "writeup.end_corrected": "更正结束时间",
    "writeup.published": "报道已发布",
    "writeup.met": "按时报道",
    "writeup.breached": "未按时报道",
    "writeup.reminded": "提醒",
}
"""Each event type in the words of the department; one not listed is shown by its type."""
