"""Keep secrets out of error messages, logs and responses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# API keys in the shapes providers use, and credentials in URLs or headers.
_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-*]{8,}"),
    re.compile(r"(?i)\b(bearer|token|api[_-]?key)\s*[:=]?\s*[A-Za-z0-9_\-.*]{8,}"),
    re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+@"),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace known secrets and anything shaped like a key with ``[redacted]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _PATTERNS[0].sub("[redacted]", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}[redacted]@", text)
    return text


# Provider error text quoted in messages is cut to this length: enough for "model not
# found" or "rate limit reached", never a whole HTML error page.
MAX_QUOTED_ERROR = 200


def quote_error(text: Any, secrets: Iterable[str | None] = ()) -> str:
    """A provider's error message, redacted, on one line and of bounded length."""
    text = " ".join(str(text).split())
    if len(text) > MAX_QUOTED_ERROR:
        text = text[: MAX_QUOTED_ERROR - 1] + "…"
    return redact(text, secrets)
