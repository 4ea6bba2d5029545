"""Rates such as ``"100/min"``, shared by the API throttle and the settings check (no ninja import)."""

from __future__ import annotations

from .exceptions import RAGImproperlyConfigured

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


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
