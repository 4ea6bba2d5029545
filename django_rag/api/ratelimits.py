"""Rates such as ``"100/min"``, client addresses and the failed-authentication throttle.

Shared by the API throttle, the file view and the settings checks (no ninja import).
"""

from __future__ import annotations

import ipaddress
import math
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..exceptions import RAGImproperlyConfigured

if TYPE_CHECKING:
    from django.core.cache import BaseCache

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
#: The throttle scope counting failed authentications (and requests refused as anonymous), per client address.
FAILED_AUTH = "failed_auth"


def parse_rate(rate: str) -> tuple[int, int]:
    """``"100/min"`` -> ``(100, 60)``."""
    try:
        count, period = rate.split("/", 1)
        requests, seconds = int(count), PERIODS[period.strip().lower()]
    except (AttributeError, ValueError, KeyError):
        raise RAGImproperlyConfigured(
            f'DJANGO_RAG["API_THROTTLE"] rate {rate!r} must read "N/s", "N/min", "N/hour" or "N/day".'
        ) from None
    if requests < 0:
        raise RAGImproperlyConfigured(f'DJANGO_RAG["API_THROTTLE"] rate {rate!r} must not be negative.')
    return requests, seconds


# Client addresses ------------------------------------------------------------------


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``DJANGO_RAG["API_TRUSTED_PROXIES"]`` parsed (addresses or CIDR ranges); checked by django_rag.E056."""
    networks = []
    for entry in proxies:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise RAGImproperlyConfigured(
                f'DJANGO_RAG["API_TRUSTED_PROXIES"] entry {entry!r} is not an IP address or a CIDR range.'
            ) from None
    return tuple(networks)


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Any, networks: tuple[Any, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _bucket(address: Any, fallback: str) -> str:
    if address is None:
        return fallback[:100] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        # One IPv6 subscriber holds a whole /64: counting single addresses would hand
        # it 2^64 fresh buckets.
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_address(request: Any) -> str:
    """The address a request's throttle buckets are keyed by.

    ``REMOTE_ADDR``, unless that is one of ``DJANGO_RAG["API_TRUSTED_PROXIES"]``: then
    the right-most ``X-Forwarded-For`` hop that is not a trusted proxy. Hops further
    left were written by the client itself, so sending a new ``X-Forwarded-For`` with
    every request never earns a fresh bucket. IPv6 clients are counted per /64.
    """
    from ..conf import get_setting

    remote = request.META.get("REMOTE_ADDR") or ""
    remote_address = _parse_address(remote)
    proxies = get_setting("API_TRUSTED_PROXIES")
    if not proxies:
        return _bucket(remote_address, remote)
    networks = trusted_networks(tuple(proxies))
    if not _is_trusted(remote_address, networks):
        return _bucket(remote_address, remote)
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client, client_text = remote_address, remote
    for hop in reversed(hops):
        client, client_text = _parse_address(hop), hop
        if not _is_trusted(client, networks):
            break
    return _bucket(client, client_text)


# Fixed-window counters ----------------------------------------------------------------


def _counter(scope: str, identity: str, period: int, now: float) -> tuple[str, float]:
    window = int(now // period)
    return f"django_rag:throttle:{scope}:{identity}:{period}:{window}", (window + 1) * period - now


def _cache() -> BaseCache:
    from django.core.cache import caches

    from ..conf import get_setting

    return caches[get_setting("API_THROTTLE_CACHE")]


def _failed_auth_rate() -> tuple[int, int] | None:
    from ..conf import DEFAULTS, get_setting

    rates = get_setting("API_THROTTLE")
    if rates is None:  # throttling turned off altogether
        return None
    # A site that lists only its own scopes keeps the default failed_auth rate: it
    # must be named (None) to be turned off.
    rate = rates.get(FAILED_AUTH, DEFAULTS["API_THROTTLE"][FAILED_AUTH])
    return None if rate is None else parse_rate(rate)


def hit(cache: Any, scope: str, identity: str, limit: int, period: int, now: float) -> float | None:
    """Count one request in ``scope``/``identity``; seconds to wait when it is over ``limit``, else ``None``."""
    key, remaining = _counter(scope, identity, period, now)
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=period + 1)
        count = 1
    return remaining if count > limit else None


def failed_auth_wait(request: Any, now: float | None = None) -> float | None:
    """Seconds this request's address must wait because of its failed authentications, or ``None``.

    Asked *before* a key is checked: past the limit even a right guess is refused, so
    guessing cannot go on at line rate. One cache read.
    """
    rate = _failed_auth_rate()
    if rate is None:
        return None
    limit, period = rate
    key, remaining = _counter(FAILED_AUTH, client_address(request), period, time.time() if now is None else now)
    count = _cache().get(key) or 0
    return remaining if count >= limit else None


def record_failed_auth(request: Any, now: float | None = None) -> float | None:
    """Count a failed authentication of this request's address; seconds to wait when it is now over the limit."""
    if getattr(request, "_django_rag_failure_counted", False):
        return failed_auth_wait(request, now)
    request._django_rag_failure_counted = True
    rate = _failed_auth_rate()
    if rate is None:
        return None
    limit, period = rate
    return hit(_cache(), FAILED_AUTH, client_address(request), limit, period, time.time() if now is None else now)


def retry_after(seconds: float) -> str:
    """``Retry-After`` as integer delta-seconds (RFC 9110), at least 1."""
    return str(max(1, math.ceil(seconds)))
