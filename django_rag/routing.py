"""Which database django-rag reads from: a replica for searches, the primary for writes.

``DJANGO_RAG["READ_DATABASE"]`` names a ``DATABASES`` alias (a streaming replica, say)
for the reads that serve a question: searches, ``ask()``'s retrieval and its access
rules, the REST API's listings and the template tags. Unset, the site's database routers
choose (``router.db_for_read``), which is the default database without a router. Every
write (documents, chunks, ``QueryLog``, evaluation runs) goes where Django's routers send
writes.

A replica lags its primary by a little. Code that must see its own write at once (the
request that has just ingested a document, a test) reads from the primary for a while
with :func:`read_from_primary`, or passes a QuerySet with ``.using("default")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import router

from .conf import get_setting

_primary: ContextVar[bool] = ContextVar("django_rag_read_from_primary", default=False)


def read_database(model: type | None = None) -> str:
    """The alias that django-rag's reads of ``model`` (the chunk table by default) use now."""
    if model is None:
        from .models import Chunk

        model = Chunk
    if _primary.get():
        return router.db_for_write(model)
    return get_setting("READ_DATABASE") or router.db_for_read(model)


@contextmanager
def read_from_primary() -> Iterator[None]:
    """Within this block (this thread or task only), django-rag reads where it writes.

    For read-your-writes right after an ingestion, when searches otherwise go to a
    replica that may not have caught up yet::

        django_rag.ingest(document)
        with django_rag.read_from_primary():
            answer = django_rag.ask("What changed?", user=request.user)
    """
    token = _primary.set(True)
    try:
        yield
    finally:
        _primary.reset(token)
