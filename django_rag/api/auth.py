"""Who is calling: an API key sent as a bearer token, or Django's session (with CSRF).

Both are ninja auth classes, so the OpenAPI schema lists them. Which of them the router
accepts is read from ``DJANGO_RAG["API_AUTH"]`` on every request. A site that wants its
own scheme mounts the router with ninja's own override::

    api.add_router("/rag/", "django_rag.api.router", auth=MyAuth())
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from ..conf import get_setting
from ..models import ApiKey

METHODS = ("api_key", "session")


def _enabled(method: str) -> bool:
    return method in get_setting("API_AUTH")


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer rag_…``: a key created in the admin; the request acts as its user."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        if not _enabled("api_key"):
            return None
        api_key = ApiKey.authenticate(token)
        if api_key is not None:
            request.user = api_key.user
        else:
            # Counted against the address even when a session then signs the request
            # in (api.throttling.failed_auth_throttle), so keys cannot be guessed that way.
            request._django_rag_key_failed = True  # type: ignore[attr-defined]  # read by failed_auth_throttle
        return api_key


class SessionAuth(NinjaSessionAuth):
    """Django's session cookie; unsafe methods need the CSRF token, as in any Django form."""

    def __call__(self, request: HttpRequest) -> Any:
        # ninja checks CSRF before it looks at the user, which would answer an anonymous
        # POST with 403 "CSRF failed" instead of 401: only a logged-in session is checked.
        if not _enabled("session") or not getattr(request, "user", None) or not request.user.is_authenticated:
            return None
        return super().__call__(request)


def default_auth() -> list[Any]:
    return [ApiKeyAuth(), SessionAuth()]


def caller(request: HttpRequest) -> Any:
    """The user a request acts as (``AnonymousUser`` when the router is mounted without auth)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return auth.user
    return getattr(request, "user", None)
