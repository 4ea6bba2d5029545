from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_rag import bm25


class Command(BaseCommand):
    help = "Recompute the BM25 postings and statistics from all chunks (after large corpus changes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        postings = bm25.rebuild(database)
        for stats in bm25.corpus_stats(database):
            self.stdout.write(f"{stats.config}: {stats.chunks} chunks, average length {stats.average_length:.1f} tokens")
        self.stdout.write(self.style.SUCCESS(f"{postings} postings written."))
