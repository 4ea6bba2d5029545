from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import QuerySet

from django_rag.conf import DEFAULT_EMBEDDER_ALIAS, get_setting
from django_rag.management.base import DocumentCommand
from django_rag.models import Document


class Command(DocumentCommand):
    help = (
        "Ingest documents again: after a change of embedder or chunking settings, or to retry failed and "
        "stuck ones. Documents whose chunks are already current cost nothing unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--embedder", default=DEFAULT_EMBEDDER_ALIAS, help="Embed with this DJANGO_RAG['EMBEDDERS'] alias."
        )
        parser.add_argument(
            "--failed-only", action="store_true",
            help="Only failed documents and those stuck in 'processing' longer than PROCESSING_TIMEOUT.",
        )
        parser.add_argument("--force", action="store_true", help="Re-embed even documents whose chunks are current.")
        parser.add_argument(
            "--model", metavar="APP_LABEL.MODEL",
            help="Index every instance of this registered model (django_rag.register) and drop documents of "
            "deleted ones, here and now.",
        )
        self.add_sync_argument(parser)

    def select_documents(self, options: dict[str, Any]) -> QuerySet[Document]:
        """The documents to re-ingest: each selection option narrows this QuerySet."""
        documents = Document.objects.all()
        if options["failed_only"]:
            documents = documents.failed() | documents.stuck()
        return documents.order_by("pk")

    def handle(self, *args: Any, embedder: str, sync: bool = False, force: bool = False, **options: Any) -> None:
        if options.get("model"):
            return self.reindex_model(options["model"])
        if embedder not in get_setting("EMBEDDERS"):
            known = ", ".join(sorted(get_setting("EMBEDDERS")))
            raise CommandError(f"Unknown embedder {embedder!r}; DJANGO_RAG['EMBEDDERS'] has: {known}.")
        documents = self.select_documents(options)
        if not documents.exists():
            self.stdout.write("No documents to re-ingest.")
            return
        self.ingest_documents(documents.iterator(), sync=sync, force=force, embedder=embedder)

    def reindex_model(self, label: str) -> None:
        from django_rag.management.progress import ProgressBar, raw_stream
        from django_rag.exceptions import NotRegistered
        from django_rag.registry import get_registration, reindex_model

        try:
            model = get_registration(label).model
        except (NotRegistered, LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        bar = ProgressBar(model._default_manager.count(), stream=raw_stream(self.stderr), label=f"Indexing {label} ")
        counts = reindex_model(model, progress=bar)
        bar.close()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if n) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"{label}: {summary}."))
