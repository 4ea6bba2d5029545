from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count

from django_rag.models import Chunk, Collection, Document
from django_rag.tasks import queue_name


class Command(BaseCommand):
    help = "Documents by status, chunks by embedder, stuck documents and the queue."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = dict(Document.objects.order_by().values_list("status").annotate(n=Count("pk")))
        self.stdout.write(f"Collections: {Collection.objects.count()}")
        self.stdout.write("Documents:")
        for status, label in Document.Status.choices:
            self.stdout.write(f"  {label:<11} {counts.get(status, 0):>8}")
        self.stdout.write(f"  {'Total':<11} {sum(counts.values()):>8}")
        stuck = Document.objects.stuck().count()
        if stuck:
            self.stdout.write(self.style.WARNING(
                f"  {stuck} stuck in processing (their worker is gone: lease expired): "
                "manage.py rag_ingest --stale queues them again."
            ))
        self.stdout.write("Chunks:")
        by_embedder = Chunk.objects.order_by().values_list("embedder").annotate(n=Count("pk")).order_by("embedder")
        for embedder, n in by_embedder:
            self.stdout.write(f"  {embedder:<40} {n:>8}")
        self.stdout.write(f"  {'Total':<40} {sum(n for _, n in by_embedder):>8}")
        queue = queue_name()
        self.stdout.write(f"Queue: {queue}")
        if queue == "django_q":
            from django_q.models import Failure, OrmQ

            self.stdout.write(f"  waiting tasks (ORM broker): {OrmQ.objects.count()}")
            self.stdout.write(f"  failed tasks: {Failure.objects.count()}")
        for document in Document.objects.failed().order_by("-updated_at")[:5]:
            self.stdout.write(self.style.ERROR(f"Failed: {document} ({document.pk}): {document.error}"))
