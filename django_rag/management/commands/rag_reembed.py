from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_rag import reembed
from django_rag.exceptions import DjangoRAGError
from django_rag.management.progress import ProgressBar, raw_stream
from django_rag.tasks import queue_name, queue_reembed_slices


class Command(BaseCommand):
    help = (
        "Re-embed every chunk with another entry of DJANGO_RAG['EMBEDDERS'] while searches keep using the "
        "active one (no re-extraction, no re-chunking), then switch with rag_activate_embedder. Resumable: "
        "run it again after an interruption and it continues where it stopped. See docs/embedding-models.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--to", metavar="ALIAS", help="Compute this embedder's vector for every chunk without one.")
        action.add_argument("--status", action="store_true", help="Coverage per embedder and collection, ETA, failures.")
        action.add_argument("--drop", metavar="ALIAS", help="Delete this (inactive) embedder's re-embedded vectors and index.")
        parser.add_argument("--rate", type=float, help="At most this many chunks per second (paid providers).")
        parser.add_argument("--batch-size", type=int, help="Chunks read and written per batch (default 4 x EMBED_BATCH_SIZE).")
        parser.add_argument(
            "--queue", action="store_true",
            help="Split the work into tasks on DJANGO_RAG['QUEUE'] (django-q2) so several workers share it; "
            "run --to again afterwards to build the index.",
        )
        parser.add_argument("--json", action="store_true", help="With --status: print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["status"]:
                return self.show_status(as_json=options["json"])
            if options["drop"]:
                deleted = reembed.drop(options["drop"])
                self.stdout.write(self.style.SUCCESS(
                    f"Dropped {deleted} re-embedded vectors of {options['drop']!r} and their index."
                ))
                return
            if options["queue"]:
                return self.enqueue(options["to"], options["rate"])
            return self.run(options["to"], rate=options["rate"], batch_size=options["batch_size"])
        except (DjangoRAGError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def run(self, alias: str, *, rate: float | None, batch_size: int | None) -> None:
        embedder = reembed.prepare(alias)
        counts = reembed.coverage(embedder, side=True)
        todo = counts["missing"]
        self.stdout.write(
            f"Re-embedding with {alias!r} ({embedder.identity}): {counts['covered']} of {counts['total']} chunks "
            f"done, {todo} to do."
        )
        bar = ProgressBar(todo, stream=raw_stream(self.stderr), label="Re-embedding ")
        try:
            result = reembed.reembed(alias, rate=rate, batch_size=batch_size, progress=bar)
        finally:
            bar.close()
        line = f"{result.embedded} chunks embedded in {result.seconds:.1f} s ({result.rate:.1f}/s)"
        if result.failed:
            line += f", {result.failed} failed (rag_reembed --status lists them; run --to again to retry)"
        if result.stopped:
            raise CommandError(f"{line}. Stopped: {result.stopped}. Run the command again to continue.")
        if result.index:
            line += f"; HNSW index {result.index} ready"
        if result.missing:
            self.stdout.write(self.style.WARNING(f"{line}. {result.missing} chunks still have no vector."))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"{line}. Every chunk has a vector: `manage.py rag_activate_embedder {alias}` to switch."
            ))

    def enqueue(self, alias: str, rate: float | None) -> None:
        if queue_name() == "sync":
            raise CommandError(
                "--queue needs a task queue, and DJANGO_RAG['QUEUE'] runs tasks inline here: set up django-q2 "
                "(docs/deployment.md), or run without --queue."
            )
        tasks = queue_reembed_slices(alias, rate=rate)
        self.stdout.write(self.style.SUCCESS(
            f"{tasks} re-embedding tasks queued ({queue_name()}). Follow them with --status; then run "
            f"`rag_reembed --to {alias}` once more to do any leftovers and build the index."
        ))

    def show_status(self, *, as_json: bool) -> None:
        entries = reembed.status()
        if as_json:
            self.stdout.write(json.dumps(entries, default=str, indent=2))
            return
        for entry in entries:
            flags = ["ACTIVE"] if entry["active"] else []
            if not entry["configured"]:
                flags.append("not in the settings")
            if entry.get("stale"):
                flags.append("settings changed since its vectors were made: re-embed")
            head = f"{entry['alias']} ({entry['identity']}), {entry['where']}"
            self.stdout.write(head + (f" [{', '.join(flags)}]" if flags else ""))
            counts = entry.get("coverage")
            if counts:
                self.stdout.write(f"  {reembed.coverage_text(counts)}")
            for row in entry.get("collections", []):
                self.stdout.write(f"    {row['collection'] or '(no collection)'}: {reembed.coverage_text(row)}")
            if "index" in entry:
                self.stdout.write(f"  HNSW index: {entry['index']}")
            progress = entry.get("progress") or {}
            if progress.get("rate"):
                eta = entry.get("eta_seconds")
                self.stdout.write(
                    f"  last run: {progress.get('embedded', 0)} chunks at {progress['rate']}/s"
                    + (f", ETA {_duration(eta)}" if eta else "")
                )
            for failure in entry.get("failures", []):
                self.stdout.write(
                    f"  failed: chunk {failure['chunk']} (document {failure['document']}), "
                    f"{failure['attempts']} attempt(s): {failure['error'][:200]}"
                )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
