"""Plain functions behind ``django_rag.search()`` and friends."""

from __future__ import annotations

from typing import Any

from . import validation
from .models import Chunk, Collection


def search(
    query: str,
    *,
    user: Any = None,
    collection: Collection | str | int | None = None,
    k: int = 5,
    mode: str = "hybrid",
    queryset: Any = None,
    **options: Any,
) -> list[Chunk]:
    """The ``k`` best chunks for ``query`` that ``user`` may see, with their documents loaded.

    ``user`` (``request.user``; ``None`` is an anonymous visitor) filters the search in
    SQL, inside each retrieval leg (see docs/permissions.md). ``collection`` is a :class:`Collection`, its slug or its primary key. ``queryset``
    narrows the search further (any ``Chunk`` QuerySet); other keyword arguments go to
    the search method (``candidates``, ``rrf_k``, ``weights``, ``vector``, ``language``...).
    ``QuerySet.top()`` checks ``mode``, ``k`` and the options.
    """
    chunks = searchable_chunks(user, collection=collection, queryset=queryset)
    return chunks.top(query, k, mode=mode, collections=True, **options)


def searchable_chunks(user: Any, *, collection: Collection | str | int | None = None, queryset: Any = None) -> Any:
    """The chunks a search for ``user`` may consider: visible ones, in ``collection``, within ``queryset``."""
    from .routing import read_database

    if queryset is None:
        chunks = Chunk.objects.using(read_database())
    elif queryset._db is None:  # a QuerySet given with .using() keeps its database
        chunks = queryset.using(read_database())
    else:
        chunks = queryset
    # Through the condition rather than queryset.visible_to(), so a QuerySet from a
    # site's own chunk manager is filtered too.
    condition = Chunk.objects.visibility_condition(user)
    if condition:
        chunks = chunks.filter(condition)
    if collection is not None:
        if not isinstance(collection, Collection):
            validation.collection_reference(collection)
        if isinstance(collection, Collection):
            chunks = chunks.filter(document__collection=collection)
        elif isinstance(collection, int):
            chunks = chunks.filter(document__collection_id=collection)
        else:
            chunks = chunks.filter(document__collection__slug=collection)
    return chunks


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
    from .tasks import enqueue

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
