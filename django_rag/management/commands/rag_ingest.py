from __future__ import annotations

import glob
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from django_rag.ingestion import ingest
from django_rag.ingestion.extractors import FORMATS_BY_EXTENSION
from django_rag.management.progress import ProgressBar
from django_rag.models import Collection, Document


class Command(BaseCommand):
    help = "Add files to django-rag and ingest them. Unchanged files cost nothing on a second run."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Files, directories or glob patterns.")
        parser.add_argument("--collection", help="Collection slug (created if missing).")
        parser.add_argument("--force", action="store_true", help="Re-embed even unchanged files.")

    def handle(self, *args, paths, collection=None, force=False, **options):
        files = self.expand(paths)
        if not files:
            raise CommandError(f"No supported files found in {' '.join(paths)}.")
        target = None
        if collection:
            target, _ = Collection.objects.get_or_create(slug=slugify(collection), defaults={"name": collection})
        bar = ProgressBar(len(files), stream=self.stderr._out, label="Ingesting ")
        counts: dict[str, int] = {}
        failures = []
        for path in files:
            document = self.document_for(path, target)
            result = ingest(document, force=force)
            counts[result.status] = counts.get(result.status, 0) + 1
            if not result.ok:
                failures.append((path, result.error))
            bar.advance(note=path.name)
        bar.close()
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{len(files)} files: {summary}."))
        for path, error in failures:
            self.stderr.write(f"{path}: {error}")

    def expand(self, patterns: list[str]) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in patterns:
            matches = glob.glob(pattern, recursive=True) or ([pattern] if Path(pattern).exists() else [])
            for match in matches:
                path = Path(match)
                candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
                for candidate in candidates:
                    if candidate.suffix.lower() in FORMATS_BY_EXTENSION or not path.is_dir():
                        found[candidate.resolve()] = None
        return list(found)

    def document_for(self, path: Path, collection: Collection | None) -> Document:
        """The document registered for this path (by source path), with its file refreshed."""
        source = str(path)
        document = Document.objects.filter(metadata__source_path=source, collection=collection).first()
        data = path.read_bytes()
        if document is None:
            document = Document(collection=collection, title=path.stem.replace("-", " ").replace("_", " ").title())
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
