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
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from ..exceptions import LLMBadResponse, LLMError, LLMTimeout, LLMUnavailable

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
    (LLMTimeout, 504, "The language model did not answer in time. Try again later."),
    (LLMUnavailable, 503, "The language model is unavailable right now. Try again later."),
    (LLMBadResponse, 502, "The language model sent a reply that could not be read."),
    (LLMError, 502, "The language model refused the request."),
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
    for error_class, status, detail in LLM_ERRORS:
        if isinstance(exc, error_class):
            # The alias and status are enough to find the cause in the server's log.
            logger.warning("LLM failure answered with HTTP %s: %s", status, type(exc).__name__)
            return error_response(status, detail, exc.code)
    raise AssertionError("unreachable: LLMError is the last entry")  # pragma: no cover


def mapped_errors(view_func: Callable) -> Callable:
    """Operation decorator: errors raised by a view become JSON error responses."""

    @functools.wraps(view_func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view_func(request, *args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.detail, exc.code)
        except LLMError as exc:
            return llm_error_response(exc)

    return wrapper


def error_codes(run: Callable) -> Callable:
    """View decorator: give ninja's own error answers (auth, throttling, validation) a code."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = run(request, *args, **kwargs)
        except RequestDataTooBig:
            return error_response(413, "The request body is larger than the server accepts.")
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
    if response.status_code < 400 or response.streaming or "json" not in response.get("Content-Type", ""):
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
