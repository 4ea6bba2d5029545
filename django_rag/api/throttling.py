"""Requests per API key, per user and per anonymous client, from ``DJANGO_RAG["API_THROTTLE"]``.

Fixed windows counted with the cache's atomic ``incr``: one cache round trip per
bucket and no list of timestamps to rewrite (ninja's ``SimpleRateThrottle`` stores
the history of every caller, which races under concurrency). ninja answers a refusal
with 429 and ``Retry-After``.

Failed authentications are counted per client address as well (the ``failed_auth``
scope): ninja answers them 401 before any throttle runs, so :func:`failed_auth_throttle`
wraps the whole view. Client addresses come from :func:`django_rag.api.ratelimits.client_address`
(``REMOTE_ADDR``, or ``X-Forwarded-For`` behind ``API_TRUSTED_PROXIES`` only).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Callable

from django.core.cache import caches
from django.http import HttpRequest, HttpResponseBase
from ninja.throttling import BaseThrottle

from ..conf import get_setting
from ..models import ApiKey
from .ratelimits import client_address, failed_auth_wait, hit, parse_rate, record_failed_auth, retry_after
from .errors import error_response


class RateThrottle(BaseThrottle):
    def __init__(self) -> None:
        # ninja asks wait() right after a refusal, on the instance every thread shares.
        self._local = threading.local()

    def get_ident(self, request: HttpRequest) -> str:
        # Not ninja's: that one keys anonymous callers by their own X-Forwarded-For.
        return client_address(request)

    def buckets(self, request: HttpRequest) -> list[tuple[str, str]]:
        """``(scope, identity)`` pairs this request counts against."""
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiKey):
            return [("key", str(auth.pk)), ("user", str(auth.user_id))]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return [("user", str(user.pk))]
        return [("anonymous", self.get_ident(request))]

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
            wait = hit(cache, scope, identity, limit, period, now)
            if wait is not None:
                waits.append(wait)
        self._local.wait = max(waits) if waits else None
        return not waits

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


def default_throttle() -> list[Any]:
    return [RateThrottle()]


def _throttled(wait: float) -> HttpResponseBase:
    response = error_response(429, "Too many failed authentications from this address. Try again later.")
    response["Retry-After"] = retry_after(wait)
    return response


def failed_auth_throttle(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """View decorator: an address past its ``failed_auth`` rate gets 429 before any key is checked.

    A request already signed in by its session cookie is not held back (nothing is being
    guessed); every other request costs one cache read here. Each 401 answered, and each
    bearer key that did not match (``ApiKeyAuth``), counts as a failure.
    """

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        now = time.time()
        if not signed_in or "HTTP_AUTHORIZATION" in request.META:
            wait = failed_auth_wait(request, now)
            if wait is not None:
                return _throttled(wait)
        response = run(request, *args, **kwargs)
        if response.status_code == 401 or getattr(request, "_django_rag_key_failed", False):
            wait = record_failed_auth(request, now)
            if wait is not None:
                return _throttled(wait)
        return response

    return wrapper
