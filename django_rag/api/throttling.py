"""Requests per API key, per user and per anonymous client, from ``DJANGO_RAG["API_THROTTLE"]``.

Fixed windows counted with the cache's atomic ``incr``: one cache round trip per
bucket and no list of timestamps to rewrite (ninja's ``SimpleRateThrottle`` stores
the history of every caller, which races under concurrency). ninja answers a refusal
with 429 and ``Retry-After``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from ..conf import get_setting
from ..models import ApiKey
from ..ratelimits import parse_rate

class RateThrottle(BaseThrottle):
    def __init__(self) -> None:
        # ninja asks wait() right after a refusal, on the instance every thread shares.
        self._local = threading.local()

    def buckets(self, request: HttpRequest) -> list[tuple[str, str]]:
        """``(scope, identity)`` pairs this request counts against."""
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiKey):
            return [("key", str(auth.pk)), ("user", str(auth.user_id))]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return [("user", str(user.pk))]
        return [("anonymous", self.get_ident(request) or "unknown")]

    def allow_request(self, request: HttpRequest) -> bool:
        rates = get_setting("API_THROTTLE") or {}
        cache = caches[get_setting("API_THROTTLE_CACHE")]
        now = time.time()
        waits = []
        for scope, identity in self.buckets(request):
            rate = rates.get(scope)
            if rate is None:
                continue
            limit, period = parse_rate(rate)
            window = int(now // period)
            key = f"django_rag:throttle:{scope}:{identity}:{period}:{window}"
            cache.add(key, 0, timeout=period + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=period + 1)
                count = 1
            if count > limit:
                waits.append((window + 1) * period - now)
        self._local.wait = max(waits) if waits else None
        return not waits

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def default_throttle() -> list[Any]:
    return [RateThrottle()]
