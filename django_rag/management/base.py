"""What the document commands share: ingest now with a progress bar, or queue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand

from django_rag.conf import DEFAULT_EMBEDDER_ALIAS
from django_rag.ingestion import IngestResult, ingest_many
from django_rag.management.progress import ProgressBar, raw_stream
from django_rag.models import Document
from django_rag.tasks import INGEST_TASK, queue_documents
from django_rag.tasks import queue_name


def describe(result: IngestResult, label: str) -> str:
    """One document's line above the progress bar: what happened, with its own time."""
    if result.status == "ingested":
        seconds = result.timings.get("total")
        took = f" in {seconds:.2f} s" if isinstance(seconds, float) else ""
        return f"ingested  {label}: {result.chunks} chunks{took}"
    if result.ok:
        return f"{result.status:<9} {label}"
    return f"{result.status:<9} {label}: {result.error}"


class DocumentCommand(BaseCommand):
    """A command that ends by ingesting a set of documents (``--sync`` or on the queue)."""

    def add_sync_argument(self, parser: Any) -> None:
        parser.add_argument(
            "--sync", action="store_true",
            help="Ingest here and now, with a progress bar, whatever DJANGO_RAG['QUEUE'] says.",
        )

    def ingest_documents(
        self, documents: Iterable[Document], *, sync: bool, force: bool = False,
        embedder: str = DEFAULT_EMBEDDER_ALIAS, labels: dict[int, str] | None = None,
    ) -> dict[str, int]:
        """Ingest inline (``--sync`` or the ``"sync"`` queue) or queue; print a summary."""
        documents = list(documents)
        if not (sync or queue_name() == "sync"):
            queued, skipped = queue_documents(
                Document.objects.filter(pk__in=[d.pk for d in documents]), INGEST_TASK,
                force=force, embedder=embedder,
            )
            message = f"{queued} documents queued for ingestion ({queue_name()})"
            if skipped:
                message += f", {skipped} skipped: being ingested now"
            self.stdout.write(self.style.SUCCESS(message + "."))
            return {"queued": queued, "skipped": skipped}
        bar = ProgressBar(len(documents), stream=raw_stream(self.stderr), label="Ingesting ")
        counts: dict[str, int] = {}
        failures = []
        names = {d.pk: (labels or {}).get(d.pk) or str(d) for d in documents}

        def record(result: IngestResult) -> None:
            counts[result.status] = counts.get(result.status, 0) + 1
            label = names.get(result.document_id, str(result.document_id))
            if not result.ok:
                failures.append((label, result.error))
            bar.write(describe(result, label))
            bar.advance(note=label[-40:])

        # Several documents per transaction: see ingest_many() and benchmarks/RESULTS.md.
        # Log lines (the pipeline's own) print above the bar too.
        with bar.lines_above():
            ingest_many(documents, force=force, embedder=embedder, on_result=record)
        bar.close()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"{len(documents)} documents: {summary}."))
        for label, error in failures:
            self.stderr.write(f"{label}: {error}")
        return counts
