"""Text people type, as the rules take it: no control characters.

PostgreSQL's jsonb refuses `\\u0000` (an event carrying one could never be recorded, and its
workflow would retry the append for ever), and nothing a person writes in a post, a reply or a
comment needs a control character other than a line break or a tab.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

ALLOWED = frozenset("\n\r\t")


def _printable(value: str) -> str:
    for char in value:
        if char not in ALLOWED and unicodedata.category(char) == "Cc":
            raise ValueError(f"the control character U+{ord(char):04X} is not allowed")
    return value


Text = Annotated[str, AfterValidator(_printable)]
"""What a person types to us: a control character is refused (422 naming the field)."""


def printable(value: str) -> str:
    """What a platform delivered, with its control characters shown as U+FFFD: a follower's
    message is kept whatever it holds, but never in a form the record cannot store."""
    return "".join("\ufffd" if c not in ALLOWED and unicodedata.category(c) == "Cc" else c for c in value)
