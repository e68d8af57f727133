"""The search attributes ops use in the Temporal Web UI and CLI, in one list.

Workflows upsert them; `mediaops up` registers them on the dev server at start, and on an external
server through the operator API, so the names are spelled once.
"""

from typing import Any

from temporalio.common import SearchAttributeKey

ARTICLE_STATUS = SearchAttributeKey.for_keyword("ArticleStatus")
WAITING_ON_ROLE = SearchAttributeKey.for_keyword("WaitingOnRole")
AUTHOR = SearchAttributeKey.for_keyword("Author")
PLATFORMS = SearchAttributeKey.for_keyword_list("Platforms")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
INQUIRY_STATUS = SearchAttributeKey.for_keyword("InquiryStatus")
SLA_DEADLINE = SearchAttributeKey.for_datetime("SlaDeadline")
PLATFORM = SearchAttributeKey.for_keyword("Platform")
ASSIGNEE = SearchAttributeKey.for_keyword("Assignee")
PROCESS_STATUS = SearchAttributeKey.for_keyword("ProcessStatus")
"""A promotion's or a write-up's status (`planned`, `met`, `breached`, ...), shared by the processes
that came after the article's and the inquiry's own: the namespace holds at most 10 Keyword
attributes, so a new process reuses this one, `NextDeadline`, `WaitingOnRole`, `Platforms` and
`Assignee` (its owner), and `WorkflowType` tells them apart."""
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
"""A step keeps failing: `NeedsAttention = true` lists every process a person must look at."""

ALL: tuple[SearchAttributeKey[Any], ...] = (
    ARTICLE_STATUS,
    WAITING_ON_ROLE,
    AUTHOR,
    PLATFORMS,
    NEXT_DEADLINE,
    INQUIRY_STATUS,
    SLA_DEADLINE,
    PLATFORM,
    ASSIGNEE,
    PROCESS_STATUS,
    NEEDS_ATTENTION,
)
