"""The REST API: a django-ninja router to mount in your own ``NinjaAPI``::

    from ninja import NinjaAPI

    api = NinjaAPI()
    api.add_router("/rag/", "django_rag.api.router")

Authentication is required by default (an API key as a bearer token, or Django's
session with CSRF); see docs/api.md. Needs the ``api`` extra: ``pip install
'django-rag[api]'``.
"""

from __future__ import annotations

try:
    import ninja  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by tests/api/test_missing_ninja.py
    from ..exceptions import ImproperlyInstalled

    raise ImproperlyInstalled(backend="django_rag.api", package="django-ninja", extra="api") from exc

from .endpoints import enqueue_ingestion, router

__all__ = ["enqueue_ingestion", "router"]
