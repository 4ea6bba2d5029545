"""Background work: one ``enqueue()`` for everything django-rag runs later.

A task is named by the dotted path of a plain function taking JSON-serialisable
arguments (primary keys, never model instances), so any queue can carry it.
``DJANGO_RAG["QUEUE"]`` picks the queue:

- ``"auto"`` (the default): django-q2 when ``django_q`` is in ``INSTALLED_APPS`` and
  ``Q_CLUSTER`` is set, otherwise ``"sync"``;
- ``"django_q"``: django-q2's ``async_task``, with whatever broker ``Q_CLUSTER``
  configures (the ORM broker, ``"orm": "default"``, needs nothing but the database);
- ``"sync"``: run the task inline, now, in this process.

Callers that enqueue because a row changed do it in ``transaction.on_commit``, so a
worker never looks for a row that was rolled back (see :mod:`django_rag.receivers`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string

from .conf import get_setting
from .exceptions import RAGImproperlyConfigured

logger = logging.getLogger("django_rag.tasks")

QUEUES = ("auto", "django_q", "sync")


def queue_name() -> str:
    """The queue ``enqueue()`` uses now: ``"django_q"`` or ``"sync"``."""
    configured = get_setting("QUEUE")
    if configured not in QUEUES:
        raise RAGImproperlyConfigured(
            f'DJANGO_RAG["QUEUE"] must be one of {", ".join(map(repr, QUEUES))}, not {configured!r}.'
        )
    if configured == "auto":
        return "django_q" if django_q_configured() else "sync"
    if configured == "django_q" and not django_q_configured():
        raise RAGImproperlyConfigured(
            'DJANGO_RAG["QUEUE"] is "django_q", but django-q2 is not set up: install it '
            "(pip install 'django-rag[queue]'), add \"django_q\" to INSTALLED_APPS and set Q_CLUSTER "
            '(for example {"name": "django_rag", "orm": "default"}).'
        )
    return configured


def django_q_configured() -> bool:
    return apps.is_installed("django_q") and bool(getattr(settings, "Q_CLUSTER", None))


def enqueue(task: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``task`` (a dotted path to a function) with these arguments on the configured queue.

    Returns the task's result on the ``"sync"`` queue, django-q2's task id otherwise.
    """
    import_string(task)  # fail here, in the caller, on a typo rather than later in a worker
    if queue_name() == "sync":
        return run(task, list(args), kwargs)
    from django_q.tasks import async_task

    # The task's own arguments travel as two plain values, so none of them can collide
    # with django-q2's option keywords (timeout, group, hook, sync...).
    return async_task("django_rag.tasks.run", task, list(args), kwargs, task_name=_task_name(task, args))


def _task_name(task: str, args: tuple[Any, ...]) -> str:
    # django-q2 stores task names in a 100-character column shown in its admin.
    label = task.rsplit(".", 1)[-1]
    return f"{label}({', '.join(map(str, args))})"[:100]


def run(task: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """What a worker executes: the function ``task`` with ``args`` and ``kwargs``."""
    return import_string(task)(*args, **kwargs)


# The tasks django-rag itself enqueues.


def ingest_document(document_id: int, force: bool = False, embedder: str | None = None) -> str:
    """Ingest one document; when another worker has it, wait for that one and go again.

    The pipeline's advisory lock means a document is never ingested twice at once. A
    task that finds it busy was enqueued for a reason (a new file saved while the old
    one was being embedded), so it waits for the lock instead of dropping the request;
    the second run costs nothing when the content did not change after all.
    """
    from .conf import DEFAULT_EMBEDDER_ALIAS
    from .ingestion import ingest

    def attempt() -> str:
        return ingest(document_id, force=force, embedder=embedder or DEFAULT_EMBEDDER_ALIAS).status

    return _while_busy(document_id, attempt)


def requeue_stale(pending_for: float | None = None) -> int:
    """Queue again every document whose ingestion lost its worker; returns how many were queued.

    Those are the documents left ``processing`` by a worker that is gone (their lease
    expired: ``Document.objects.stuck()``) and, with ``pending_for`` (seconds), those
    ``pending`` for longer than that since they were last saved or queued
    (``Document.objects.waiting(pending_for)``): a worker killed after it took their
    tasks from the broker, before it started them, lost the tasks with it. Run it
    periodically (a django-q2 ``Schedule``, cron with ``manage.py rag_ingest --stale
    [--pending-for SECONDS]``), with ``pending_for`` longer than a task normally waits
    on the queue; a document queued twice is still ingested once.
    """
    from .models import Document
    from .shortcuts import queue_documents

    stale = list(Document.objects.stuck().values_list("pk", "lease_owner"))
    waiting = [] if pending_for is None else list(Document.objects.waiting(pending_for).values_list("pk", flat=True))
    if not stale and not waiting:
        return 0
    for document_id, owner in stale:
        logger.warning(
            "Document %s was left processing by %s, whose lease expired: queued again.", document_id, owner or "a worker"
        )
    if waiting:
        logger.warning(
            "%d documents were pending for more than %g s (their tasks may be lost with a worker): queued again: %s",
            len(waiting), pending_for, ", ".join(map(str, waiting[:20])) + (" ..." if len(waiting) > 20 else ""),
        )
    queued, _skipped = queue_documents(
        Document.objects.filter(pk__in=[pk for pk, _owner in stale] + waiting), "django_rag.tasks.ingest_document"
    )
    return queued


def remove_chunks(document_id: int) -> str:
    """Delete a document's chunks; it stays, ``pending``, until it is ingested again."""
    from .ingestion.pipeline import remove_chunks as remove

    def attempt() -> str:
        remove(document_id)
        return "removed"

    return _while_busy(document_id, attempt)


def _while_busy(document_id: int, attempt: Callable[[], str]) -> str:
    """Call ``attempt`` until the document is free or ``BUSY_WAIT_SECONDS`` have passed."""
    from .exceptions import DocumentBusy
    from .models import Document

    deadline = time.monotonic() + get_setting("BUSY_WAIT_SECONDS")
    delay = 0.2
    while True:
        try:
            status = attempt()
        except Document.DoesNotExist:
            logger.info("Document %s was deleted before its task ran.", document_id)
            return "deleted"
        except DocumentBusy:
            status = "busy"
        if status != "busy":
            return status
        if time.monotonic() >= deadline:
            logger.warning("Document %s stayed busy for BUSY_WAIT_SECONDS; the task gave up.", document_id)
            return status
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
