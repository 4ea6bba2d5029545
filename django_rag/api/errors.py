"""Every error the API answers is JSON ``{"detail": ..., "code": ...}``.

The router cannot install exception handlers on the host's ``NinjaAPI`` (they would
change every other router of the site too), so it wraps its own operations instead:
:func:`error_codes` gives the errors ninja itself answers (401, 422, 429...) a ``code``,
and :func:`mapped_errors` turns what a view raises into the right status.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Callable

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from ..exceptions import DATABASE_UNAVAILABLE, QUERY_FAILURES, EmbeddingError, LLMError, query_failure

logger = logging.getLogger("django_rag.api")

#: The code of an error answered without a more specific one, by HTTP status.
CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid",
    429: "throttled",
    502: "llm_failed",
    503: "llm_unavailable",
    504: "llm_timeout",
}

# Provider failures: the caller learns what kind of failure it was, never the
# provider's message (which may name hosts, models or echo a key back).
LLM_ERRORS: list[tuple[type[LLMError], int, str]] = [
    (kind, status, code)
    for kind, status, code in QUERY_FAILURES
    if isinstance(kind, type) and issubclass(kind, LLMError)
]


class ApiError(Exception):
    """Raised by a view to answer ``status`` with ``{"detail", "code"}``."""

    def __init__(self, status: int, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.code = code or CODES_BY_STATUS.get(status, "error")


def error_response(status: int, detail: Any, code: str | None = None) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code or CODES_BY_STATUS.get(status, "error")}, status=status)


def llm_error_response(exc: LLMError) -> JsonResponse:
    return failure_response(exc)


#: Every failure code a query may end with: (status, detail) for the SSE ``error`` event.
STATUS_BY_FAILURE_CODE = {
    **{getattr(error_class, "code", "error"): (status, detail) for error_class, status, detail in QUERY_FAILURES},
    DATABASE_UNAVAILABLE[1]: (DATABASE_UNAVAILABLE[0], DATABASE_UNAVAILABLE[2]),
}


def failure_response(exc: Exception) -> JsonResponse:
    """A provider's or the database's failure as ``{"detail", "code"}`` with its status (502/503/504)."""
    failure = query_failure(exc)
    assert failure is not None, exc
    status, code, detail = failure
    # The class and the provider's message (which holds no secret: see exceptions.py)
    # are what an operator needs to find the cause; the caller gets the plain words.
    logger.warning("Answered HTTP %s (%s): %s: %s", status, code, type(exc).__name__, exc)
    return error_response(status, detail, code)


def mapped_errors(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Operation decorator: errors raised by a view become JSON error responses."""

    @functools.wraps(view_func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view_func(request, *args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.detail, exc.code)
        except (LLMError, EmbeddingError, OperationalError, InterfaceError) as exc:
            return failure_response(exc)

    return wrapper


def error_codes(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """View decorator: give ninja's own error answers (auth, throttling, validation) a code."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = run(request, *args, **kwargs)
        except RequestDataTooBig:
            return error_response(413, "The request body is larger than the server accepts.")
        except (OperationalError, InterfaceError) as exc:  # down before the operation ran (authentication)
            return failure_response(exc)
        return with_code(response, request)

    return wrapper


def unauthenticated_detail(request: HttpRequest | None) -> str:
    """Why a 401: no credentials at all, or a key that was sent and not accepted.

    The second message is the same for an unknown, revoked or expired key, so it tells a
    caller nothing about which keys exist.
    """
    header = request.headers.get("Authorization", "").strip() if request is not None else ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return ("The API key was not accepted: it is wrong, revoked or expired, or its user is inactive. "
                "Check the key, or create a new one in the admin.")
    if header:
        return "The Authorization header is not an API key: send it as 'Authorization: Bearer <key>'."
    return "Authentication required: send an API key as 'Authorization: Bearer <key>', or log in."


def with_code(response: HttpResponseBase, request: HttpRequest | None = None) -> HttpResponseBase:
    # A streaming response (not an HttpResponse) has no content to read.
    if response.status_code < 400 or not isinstance(response, HttpResponse) or "json" not in response.get(
        "Content-Type", ""
    ):
        return response
    try:
        body = json.loads(response.content)
    except ValueError:
        return response
    if not isinstance(body, dict) or "code" in body:
        return response
    detail = body.get("detail", "")
    code = CODES_BY_STATUS.get(response.status_code, "error")
    if response.status_code == 403 and "CSRF" in str(detail):
        code, detail = "csrf_failed", "CSRF check failed: send the X-CSRFToken header with session requests."
    elif response.status_code == 401:
        detail = unauthenticated_detail(request)
    replacement = error_response(response.status_code, detail, code)
    for header in ("Retry-After", "WWW-Authenticate"):
        if header in response:
            replacement[header] = response[header]
    return replacement
