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
    return str(configured)


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


#: The task that ingests one document: queue it with :func:`queue_ingestion`.
INGEST_TASK = "django_rag.tasks.ingest_document"
#: The task that removes one document's chunks (the admin's action queues it with :func:`queue_documents`).
REMOVE_CHUNKS_TASK = "django_rag.tasks.remove_chunks"


def queue_ingestion(document_id: int, *, force: bool = False, using: str | None = None, robust: bool = False) -> None:
    """Ingest the document once the current transaction (on ``using``) commits.

    On commit: a worker must never read a row that is rolled back. ``robust`` logs an
    enqueue failure instead of raising it into the code that committed (what a model
    signal receiver wants).
    """
    from functools import partial

    from django.db import transaction

    options = {"force": True} if force else {}
    transaction.on_commit(partial(enqueue, INGEST_TASK, document_id, **options), using=using, robust=robust)


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
        Document.objects.filter(pk__in=[pk for pk, _owner in stale] + waiting), INGEST_TASK
    )
    return queued


def remove_chunks(document_id: int) -> str:
    """Delete a document's chunks; it stays, ``pending``, until it is ingested again."""
    from .ingestion.writer import remove_chunks as remove

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


def queue_documents(documents: Any, task: str, **options: Any) -> tuple[int, int]:
    """Enqueue ``task`` (a dotted path taking a document id) for each document, after the commit.

    Returns ``(queued, skipped)``. A document ``processing`` right now is skipped unless
    it is stuck (``Document.objects.stuck()``, see ``PROCESSING_TIMEOUT``): its worker's
    lock would only make the new task wait. Queued documents are marked ``pending``
    (``updated_at`` now) so the admin shows that work is waiting for them.
    """
    from functools import partial

    from django.db import transaction
    from django.utils import timezone

    from .models import Document

    documents = documents.order_by()
    busy = documents.filter(status=Document.Status.PROCESSING).exclude(pk__in=documents.stuck().values("pk"))
    skipped = busy.count()
    ids = list(documents.exclude(pk__in=busy.values("pk")).values_list("pk", flat=True))
    with transaction.atomic():
        # updated_at is when the document was last queued, also for one pending already:
        # Document.objects.waiting() counts from it, so a periodic sweep does not queue
        # a document again while its new task waits on the queue.
        Document.objects.filter(pk__in=ids).update(status=Document.Status.PENDING, updated_at=timezone.now())
        for document_id in ids:
            transaction.on_commit(partial(enqueue, task, document_id, **options), robust=True)
    return len(ids), skipped


def queue_reembed_slices(alias: str, *, slice_size: int = 5000, rate: float | None = None, using: str = "default") -> int:
    """Queue a re-embedding into ``alias`` as one task per id range (``rag_reembed --queue``); returns how many.

    Each worker takes a range, so several share the work; ``rate`` applies to each task.
    """
    from .reembed import slices

    ranges = slices(alias, slice_size=slice_size, using=using)
    for first_id, last_id in ranges:
        enqueue("django_rag.reembed.reembed_task", alias, first_id, last_id, rate)
    return len(ranges)
