"""Where uploaded originals live and how links reach them.

An upload is untrusted content: an HTML or SVG file served from the site's own origin
runs its script with the site's cookies. So django-rag never links to the storage's own
URL (``MEDIA_URL``): every link (citations, sources, the API, the admin's "Currently:"
link) goes to :func:`django_rag.views.document_file`, which checks the same access rules
as search and serves the bytes as a download unless they are plain text or PDF. Uploads
are stored under a random directory, so the storage URL of a private document cannot be
guessed either, and ``DJANGO_RAG["FILE_STORAGE"]`` can name a storage that is not served
at all (see docs/security.md).
"""

from __future__ import annotations

import posixpath
import re
import secrets
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin

from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from .conf import get_setting

FILE_VIEW = "django_rag:document_file"


def upload_path(instance: Any, filename: str) -> str:
    """``django_rag/2026/12/<random>/<name>``: a private upload's path cannot be guessed from its name.

    The random part also keeps two uploads of ``salaries.pdf`` apart, so the stored
    name never gains the storage's ``_AbCdEf`` suffix that would reveal the other one.
    Only the name's last part is kept, without control characters: a name from
    elsewhere than a form (``document.file.save(name, ...)``) may hold ``../`` or
    ``C:\\Users\\...``, which Django would refuse as a path traversal.
    """
    month = timezone.now().strftime("%Y/%m")
    name = posixpath.basename(_CONTROL_CHARACTERS.sub("", filename or "").replace("\\", "/")).strip() or "upload"
    if name in (".", ".."):
        name = "upload"
    return f"django_rag/{month}/{secrets.token_urlsafe(16)}/{name}"


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.http import HttpRequest

    _LazyStorage = LazyObject[Storage]
else:
    _LazyStorage = LazyObject  # not subscriptable at run time


class DocumentStorage(_LazyStorage):
    """The storage named by ``DJANGO_RAG["FILE_STORAGE"]`` (a ``STORAGES`` alias), looked up lazily.

    ``Document.file`` keeps this one object; it follows the settings (``override_settings``
    in tests, ``STORAGES`` changes) instead of fixing a storage when models are loaded.
    """

    def _setup(self) -> None:
        self._wrapped = storages[get_setting("FILE_STORAGE")]


_document_storage = DocumentStorage()


def document_storage() -> Storage:
    """The callable ``Document.file`` names as its storage (so migrations record a path, not an object)."""
    # The lazy object stands in for the storage it wraps (every attribute is the storage's).
    return cast("Storage", _document_storage)


def _reset_storage(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DJANGO_RAG", "STORAGES"):
        _document_storage._wrapped = empty  # type: ignore[assignment]  # LazyObject's own "not set up yet" marker


setting_changed.connect(_reset_storage, dispatch_uid="django_rag.files.reset_storage")


def display_name(name: str) -> str:
    """The file name a person uploaded (``report.pdf``), without the storage's directories."""
    return posixpath.basename(name or "")


def file_path(document_id: Any) -> str:
    """The serving view's path for a document (``/rag/documents/42/file``), ``""`` when it is not mounted."""
    if document_id is None:
        return ""
    try:
        return reverse(FILE_VIEW, kwargs={"document_id": document_id})
    except NoReverseMatch:
        # django_rag.urls is not included (django_rag.W055): no link at all rather
        # than one to the raw upload.
        return ""


def absolute_url(url: str, request: HttpRequest | None = None) -> str:
    """``url`` made absolute with the request's host, else ``DJANGO_RAG["SITE_URL"]``; kept as is when neither."""
    if not url or not url.startswith("/") or url.startswith("//"):
        return url
    if request is not None:
        return request.build_absolute_uri(url)
    site_url: str = get_setting("SITE_URL")
    if site_url:
        return urljoin(site_url.rstrip("/") + "/", url.lstrip("/"))
    return url
