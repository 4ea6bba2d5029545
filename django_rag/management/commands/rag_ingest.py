from __future__ import annotations

import glob
from typing import Any
from pathlib import Path

from django.core.files import File
from django.core.management.base import CommandError, CommandParser
from django.utils.text import slugify

from django_rag.ingestion.extractors import extension_map
from django_rag.management.base import DocumentCommand
from django_rag.models import Collection, Document
from django_rag.receivers import auto_ingest_paused


class Command(DocumentCommand):
    help = (
        "Add files to django-rag and ingest them (on the queue, or here with --sync). "
        "Unchanged files cost nothing on a second run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", help="Files, directories or glob patterns (quote them: 'docs/**/*.md').")
        parser.add_argument("--collection", help="Collection name or slug (created if missing).")
        parser.add_argument("--force", action="store_true", help="Re-embed even unchanged files.")
        parser.add_argument(
            "--stale", action="store_true",
            help="Ingest again the documents left 'processing' by a worker that is gone (lease expired).",
        )
        parser.add_argument(
            "--pending-for", type=float, metavar="SECONDS",
            help="With --stale: also the documents 'pending' for more than SECONDS since they were saved or queued "
            "(their task may have been lost with a worker). Make it longer than a task waits on the queue.",
        )
        self.add_sync_argument(parser)

    def handle(self, *args: Any, paths: list[str], collection: str | None = None, force: bool = False, sync: bool = False,
               stale: bool = False, pending_for: float | None = None, **options: Any) -> None:
        if pending_for is not None and not stale:
            raise CommandError("--pending-for goes with --stale.")
        if stale:
            if paths:
                raise CommandError("--stale takes no paths.")
            return self.ingest_stale(sync=sync, force=force, pending_for=pending_for)
        if not paths:
            raise CommandError("Give files, directories or glob patterns to ingest (or --stale).")
        files = self.expand(paths)
        if not files:
            raise CommandError(f"No supported files found in {' '.join(paths)}.")
        target = None
        if collection:
            target, _ = Collection.objects.get_or_create(slug=slugify(collection), defaults={"name": collection})
        # This command ingests what it saves (below): the save itself must not queue a
        # second ingestion.
        with auto_ingest_paused():
            documents = [self.document_for(path, target) for path in files]
        labels = {document.pk: path.name for document, path in zip(documents, files)}
        self.ingest_documents(documents, sync=sync, force=force, labels=labels)

    def ingest_stale(self, *, sync: bool, force: bool, pending_for: float | None = None) -> None:
        stale = list(Document.objects.stuck().order_by("pk"))
        waiting = []
        if pending_for is not None:
            try:
                waiting = list(Document.objects.waiting(pending_for).order_by("pk"))
            except ValueError as error:
                raise CommandError(f"--pending-for: {error}") from None
        if not stale and not waiting:
            self.stdout.write("No stale documents.")
            return
        if stale:
            self.stdout.write(f"{len(stale)} documents were left processing by a worker that is gone.")
        if waiting:
            self.stdout.write(f"{len(waiting)} documents were pending for more than {pending_for:g} s.")
        self.ingest_documents(stale + waiting, sync=sync, force=force)

    def expand(self, patterns: list[str]) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in patterns:
            matches = glob.glob(pattern, recursive=True) or ([pattern] if Path(pattern).exists() else [])
            for match in matches:
                path = Path(match)
                candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
                for candidate in candidates:
                    if candidate.suffix.lower() in extension_map() or not path.is_dir():
                        found[candidate.resolve()] = None
        return list(found)

    def document_for(self, path: Path, collection: Collection | None) -> Document:
        """The document registered for this path (by source path), with its file refreshed."""
        source = str(path)
        document: Document | None = Document.objects.filter(metadata__source_path=source, collection=collection).first()
        data = path.read_bytes()
        if document is None:
            # No title: ingestion names it after its first heading or PDF title, else its file name.
            document = Document(collection=collection)
            document.metadata = {"source_path": source}
        elif document.file:
            with document.file.open("rb") as handle:
                if handle.read() == data:
                    return document
            document.file.delete(save=False)
        with path.open("rb") as handle:
            document.file.save(path.name, File(handle), save=False)
        document.save()
        return document
