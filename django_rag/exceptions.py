"""Every error django-rag raises on purpose, in one place.

Configuration mistakes subclass Django's ``ImproperlyConfigured`` and name the setting
to fix. Ingestion errors carry a message that is safe to show to the person who uploaded
the document: it never contains credentials or a provider's raw response body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def requires_extra(extra: str, *, package: str, backend: str) -> Iterator[None]:
    """Turn an ImportError in the block into :class:`ImproperlyInstalled` naming the extra::

        with requires_extra("openai", package="langchain-openai", backend="django_rag.llms.openai.LLM"):
            from langchain_openai import ChatOpenAI
    """
    try:
        yield
    except ImportError as exc:
        raise ImproperlyInstalled(backend=backend, package=package, extra=extra) from exc


class IngestionError(DjangoRAGError):
    """A document could not be ingested. The previous chunks stay in place."""

    code = "ingestion_failed"


class UnsupportedFileType(IngestionError):
    code = "unsupported_type"


class MissingDependency(UnsupportedFileType):
    """A format whose extractor needs an optional package (an extra) that is not installed."""

    code = "missing_dependency"

    def __init__(self, *, label: str, package: str, extra: str) -> None:
        self.label, self.package, self.extra = label, package, extra
        super().__init__(
            f"{label} files need the {package!r} package, which is not installed. "
            f"Install it with: pip install 'django-rag[{extra}]'"
        )


class FileTooLarge(IngestionError):
    code = "too_large"


class EmptyDocument(IngestionError):
    code = "empty"


class CorruptFile(IngestionError):
    code = "corrupt"


class EncryptedFile(IngestionError):
    code = "encrypted"


class ExtractionLimitExceeded(IngestionError):
    """Extracting the file's text took more time or memory than the extraction budget allows
    (``MAX_EXTRACT_SECONDS``, ``MAX_EXTRACT_MEMORY_MB``)."""

    code = "extraction_limit"


class MissingFile(IngestionError):
    """The document's file is not in storage (deleted, or the storage is not mounted)."""

    code = "missing_file"


class BinaryContent(IngestionError):
    code = "binary"


class UnknownLanguage(IngestionError):
    """The full-text language is not a text search configuration of the database."""

    code = "unknown_language"


class EmbeddingError(IngestionError):
    """The embedder failed (raised, timed out, or returned the wrong shape)."""

    code = "embedding_failed"


class EmbeddingTimeout(EmbeddingError):
    """The embedder did not answer within its ``OPTIONS["timeout"]``: worth retrying."""

    code = "embedding_timeout"


class EmbeddingUnavailable(EmbeddingError):
    """The embedder could not be reached, dropped the connection, or answered HTTP 5xx
    or 429: worth retrying."""

    code = "embedding_unavailable"


class DocumentBusy(IngestionError):
    """Another worker is ingesting this document right now."""

    code = "busy"


class LeaseLost(DocumentBusy):
    """This worker's lease on the document expired and another worker took it over:
    its work is dropped, the other worker's result stands."""

    code = "lease_lost"


class LLMError(DjangoRAGError):
    """The LLM could not answer. The message names the alias and never holds a secret.

    Raised as such when the provider refused the request for a reason retrying will not
    fix (HTTP 4xx: a wrong API key, an unknown model, a prompt that is too long); the
    subclasses below say when the provider was slow, down or incoherent.
    """

    code = "llm_failed"

    def __init__(self, message: str, *, alias: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        #: The LLMS alias that failed, and the provider's HTTP status when there was one.
        self.alias, self.status_code = alias, status_code


class LLMTimeout(LLMError):
    """No reply within ``OPTIONS["timeout"]`` seconds (after the configured retries)."""

    code = "llm_timeout"


class LLMUnavailable(LLMError):
    """The provider could not be reached, dropped the connection, or answered HTTP 5xx
    or 429 (rate limited, out of quota) after the configured retries."""

    code = "llm_unavailable"


class LLMBadResponse(LLMError):
    """The provider answered, but not with a chat completion (malformed or empty reply)."""

    code = "llm_bad_response"


class NotRegistered(DjangoRAGError, LookupError):
    """A model was used as indexed but was never passed to ``django_rag.register()``."""


#: How a failure at query time is answered, most specific class first: the HTTP status,
#: the code and the words every surface uses (the REST API, the SSE ``error`` event, the
#: template tags, the admin's Ask page). The words never hold the provider's own
#: message, which may name hosts or models: that goes to the log and to QueryLog.
QUERY_FAILURES: list[tuple[tuple[type[Exception], ...] | type[Exception], int, str]] = [
    (EmbeddingTimeout, 504, "The embedding model did not answer in time. Try again later."),
    (EmbeddingUnavailable, 503, "The embedding model is unavailable right now. Try again later."),
    (EmbeddingError, 502, "The embedding model could not embed the question."),
    (LLMTimeout, 504, "The language model did not answer in time. Try again later."),
    (LLMUnavailable, 503, "The language model is unavailable right now. Try again later."),
    (LLMBadResponse, 502, "The language model sent a reply that could not be read."),
    (LLMError, 502, "The language model refused the request."),
]
DATABASE_UNAVAILABLE = (503, "database_unavailable", "The database is unavailable right now. Try again later.")


def query_failure(exc: BaseException) -> tuple[int, str, str] | None:
    """``(status, code, detail)`` for a provider or database failure at query time, else None.

    Only connection-level database errors count (the server is down, restarting, or cut
    the connection); a ProgrammingError is a bug and stays one.
    """
    from django.db import InterfaceError, OperationalError

    for error_class, status, detail in QUERY_FAILURES:
        if isinstance(exc, error_class):
            return status, getattr(exc, "code", "error"), detail
    if isinstance(exc, (OperationalError, InterfaceError)):
        return DATABASE_UNAVAILABLE
    return None
