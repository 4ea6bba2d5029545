"""Receivers that keep chunks in step with documents, connected in ``AppConfig.ready()``.

- Saving a :class:`~django_rag.models.Document` whose file, text, title or language is
  new or changed enqueues its ingestion once the transaction commits
  (``DJANGO_RAG["INGEST_ON_SAVE"]``). A rolled-back save enqueues nothing.
- Deleting a document deletes its chunks (the foreign key cascades, in the same
  transaction) and, with ``DJANGO_RAG["DELETE_FILES"]``, its file once the deletion
  has committed: a rolled-back delete keeps the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction

from .conf import get_setting
from .tasks import queue_ingestion

logger = logging.getLogger("django_rag.receivers")

#: The fields whose change means the chunks no longer describe the document.
SOURCE_FIELDS = ("file", "text", "title", "language")

_paused: ContextVar[bool] = ContextVar("django_rag_auto_ingest_paused", default=False)


@contextmanager
def auto_ingest_paused() -> Iterator[None]:
    """Save documents inside this block without enqueuing their ingestion.

    For code that ingests the documents it saves itself (``rag_ingest --sync``, the
    LangChain store), so each document is ingested once, by that code.
    """
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def _source_state(document: Any) -> tuple[Any, ...]:
    return tuple(
        document.file.name if name == "file" else document.__dict__.get(name) for name in SOURCE_FIELDS
    )


def remember_source(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_init: note what the document's source looked like when it was loaded."""
    # Deferred fields (``.only()``) are absent from __dict__; they count as unknown, and
    # loading them later does not make the document look changed.
    instance._django_rag_source = _source_state(instance) if _all_loaded(instance) else None


def _all_loaded(instance: Any) -> bool:
    return all(name in instance.__dict__ for name in SOURCE_FIELDS)


def ingest_on_save(sender: Any, instance: Any, created: bool, raw: bool = False, using: str = "default",
                   update_fields: Any = None, **kwargs: Any) -> None:
    """post_save: enqueue ingestion when the document's source is new or changed."""
    if raw or _paused.get() or not get_setting("INGEST_ON_SAVE"):
        return
    if update_fields is not None and not set(update_fields) & set(SOURCE_FIELDS):
        return
    before = getattr(instance, "_django_rag_source", None)
    current = _source_state(instance) if _all_loaded(instance) else None
    if not created and before is not None and before == current:
        return
    instance._django_rag_source = current
    if not (instance.file or instance.text):
        return  # nothing to ingest yet (a document created before its content)
    queue_ingestion(instance.pk, using=using, robust=True)


def delete_file(sender: Any, instance: Any, using: str = "default", **kwargs: Any) -> None:
    """post_delete: remove the document's file from storage, after the commit."""
    if not get_setting("DELETE_FILES") or not instance.file:
        return
    storage, name = instance.file.storage, instance.file.name

    def delete() -> None:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("Could not delete the file %s of deleted document %s.", name, instance.pk, exc_info=True)

    transaction.on_commit(delete, using=using)
