"""Every error django-rag raises on purpose, in one place.

Configuration mistakes subclass Django's ``ImproperlyConfigured`` and name the setting
to fix. Ingestion errors carry a message that is safe to show to the person who uploaded
the document: it never contains credentials or a provider's raw response body.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class DjangoRAGError(Exception):
    """Base class of every django-rag error."""


class RAGImproperlyConfigured(DjangoRAGError, ImproperlyConfigured):
    """A ``DJANGO_RAG`` setting is wrong; the message names it."""


class ImproperlyInstalled(RAGImproperlyConfigured, ImportError):
    """A backend needs an optional dependency that is not installed."""

    def __init__(self, *, backend: str, package: str, extra: str) -> None:
        self.backend, self.package, self.extra = backend, package, extra
        super().__init__(
            f"{backend} needs the {package!r} package. "
            f"Install it with: pip install 'django-rag[{extra}]'"
        )


class IngestionError(DjangoRAGError):
    """A document could not be ingested. The previous chunks stay in place."""

    code = "ingestion_failed"


class UnsupportedFileType(IngestionError):
    code = "unsupported_type"


class FileTooLarge(IngestionError):
    code = "too_large"


class EmptyDocument(IngestionError):
    code = "empty"


class CorruptFile(IngestionError):
    code = "corrupt"


class EncryptedFile(IngestionError):
    code = "encrypted"


class BinaryContent(IngestionError):
    code = "binary"


class UnknownLanguage(IngestionError):
    """The full-text language is not a text search configuration of the database."""

    code = "unknown_language"


class EmbeddingError(IngestionError):
    """The embedder failed (raised, timed out, or returned the wrong shape)."""

    code = "embedding_failed"


class DocumentBusy(IngestionError):
    """Another worker is ingesting this document right now."""

    code = "busy"
