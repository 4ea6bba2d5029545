"""Deprecated import path of :mod:`django_rag.api.ratelimits`.

Rates, client addresses and the failed-authentication throttle belong to the API (the
file view and the settings checks use them too). Importing from here still works, with
a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .api import ratelimits as _moved
from .api.ratelimits import (
    FAILED_AUTH, PERIODS, client_address, failed_auth_wait, hit, parse_rate, record_failed_auth, retry_after,
    trusted_networks,
)

warnings.warn(
    "django_rag.ratelimits moved to django_rag.api.ratelimits; import from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    # Anything else the module had (private names included) is found where it lives now.
    return getattr(_moved, name)


__all__ = [
    "FAILED_AUTH", "PERIODS", "client_address", "failed_auth_wait", "hit", "parse_rate", "record_failed_auth",
    "retry_after", "trusted_networks",
]
