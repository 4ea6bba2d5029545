"""The REST API: a django-ninja router to mount in your own ``NinjaAPI``::

    from ninja import NinjaAPI

    api = NinjaAPI()
    api.add_router("/rag/", "django_rag.api.router")

Authentication is required by default (an API key as a bearer token, or Django's
session with CSRF); see docs/api.md. Needs the ``api`` extra: ``pip install
'django-rag[api]'``.

The router loads on first use: :mod:`django_rag.api.ratelimits`, which the file view
and the settings checks use, must import without django-ninja.
"""

from __future__ import annotations

from typing import Any

__all__ = ["enqueue_ingestion", "router"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import ninja  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised by tests/api/test_missing_ninja.py
        from ..exceptions import ImproperlyInstalled

        raise ImproperlyInstalled(backend="django_rag.api", package="django-ninja", extra="api") from exc
    from . import endpoints

    return getattr(endpoints, name)
