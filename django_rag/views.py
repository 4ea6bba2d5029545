"""The view that serves uploaded originals (mounted by ``django_rag.urls``).

Uploads are untrusted: an HTML, SVG or JavaScript file opened from the site's origin
runs with the site's cookies. So the view

- answers only what the requesting user may see, under the same rules as search
  (``Document.objects.visible_to``); a document that is hidden, missing, has no file or
  whose file is gone is the same 404, so ids cannot be probed;
- shows inline only PDF (by its bytes) and plain text (``.txt``, ``.md``...: as
  ``text/plain``); everything else is an ``attachment`` of type
  ``application/octet-stream``;
- always sends ``X-Content-Type-Options: nosniff`` and a sandboxing
  ``Content-Security-Policy``, so not even a browser that ignores the type runs script.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe

from .conf import get_setting
from .files import display_name
from .models import ApiKey, Document
from .api.ratelimits import failed_auth_wait, record_failed_auth, retry_after

MAX_ID = 2**63 - 1  # bigint: larger ids cannot exist, and PostgreSQL refuses them
#: Shown in the browser (inline): names of text files that are displayed as text/plain.
TEXT_SUFFIXES = {".txt", ".text", ".log", ".csv", ".rst", ".md", ".markdown"}
# No script, no plugins, no subresources, a unique origin: what a downloaded or
# displayed upload is allowed to do in the browser.
SANDBOX_POLICY = "sandbox; default-src 'none'"
# Chromium's PDF viewer does not open in a CSP sandbox; the policy still forbids the
# document from loading or running anything but the viewer.
PDF_POLICY = "default-src 'none'; object-src 'self'"
NOT_FOUND = "No such file."


class _BadKey(Exception):
    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


def _requesting_user(request: HttpRequest) -> Any:
    """The session's user, or the user of a valid ``Authorization: Bearer`` API key (as in the REST API)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header or "api_key" not in get_setting("API_AUTH"):
        return getattr(request, "user", None)
    wait = failed_auth_wait(request)
    if wait is not None:
        response = HttpResponse("Too many failed authentications from this address.", status=429,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = retry_after(wait)
        raise _BadKey(response)
    scheme, _space, token = header.partition(" ")
    api_key = ApiKey.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if api_key is None:
        wait = record_failed_auth(request)
        response = HttpResponse("Invalid API key.", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = "Bearer"
        if wait is not None:
            response = HttpResponse("Too many failed authentications from this address.", status=429,
                                    content_type="text/plain; charset=utf-8")
            response["Retry-After"] = retry_after(wait)
        raise _BadKey(response)
    return api_key.user


def _presentation(name: str, head: bytes) -> tuple[str, bool]:
    """``(content_type, inline)`` for a stored file: PDF and plain text inline, the rest as a download."""
    if head.lstrip().startswith(b"%PDF-"):
        return "application/pdf", True
    if PurePath(name).suffix.lower() in TEXT_SUFFIXES:
        return "text/plain; charset=utf-8", True
    return "application/octet-stream", False


@require_safe
def document_file(request: HttpRequest, document_id: int) -> HttpResponseBase:
    """The original file of a document the requesting user may see."""
    try:
        user = _requesting_user(request)
    except _BadKey as refusal:
        return refusal.response
    if document_id > MAX_ID:
        raise Http404(NOT_FOUND)
    document = (
        Document.objects.visible_to(user).filter(pk=document_id).exclude(file="").only("pk", "file").first()
    )
    if document is None:
        raise Http404(NOT_FOUND)
    name = document.file.name or ""  # not empty: excluded above
    try:
        handle = document.file.storage.open(name, "rb")
    except OSError:  # deleted from the storage behind the row's back
        raise Http404(NOT_FOUND) from None
    head = handle.read(1024)
    handle.seek(0)
    content_type, inline = _presentation(name, head)
    response = FileResponse(
        handle, as_attachment=not inline, filename=display_name(name) or "download",
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = PDF_POLICY if content_type == "application/pdf" else SANDBOX_POLICY
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Referrer-Policy"] = "no-referrer"
    # The answer depends on who asks: no shared cache may keep it, and a browser asks
    # again each time, so a revoked permission takes effect at once.
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Cookie, Authorization"
    return response
