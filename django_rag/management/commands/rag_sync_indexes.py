from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_rag.vector_indexes import HNSW_MAX_DIMENSIONS, drop_index, ensure_all_indexes, stale_indexes


class Command(BaseCommand):
    help = (
        "Create the partial HNSW index of every embedder in DJANGO_RAG['EMBEDDERS'] that lacks one, "
        "and list (or drop, with --drop-stale) the indexes no configured embedder uses."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--drop-stale", action="store_true",
            help="Drop the HNSW indexes left by embedders that are no longer configured.",
        )

    def handle(self, *args: Any, database: str, drop_stale: bool, **options: Any) -> None:
        for alias, name, created in ensure_all_indexes(database):
            if name is None:
                self.stdout.write(self.style.WARNING(
                    f"{alias}: no index (more than {HNSW_MAX_DIMENSIONS['halfvec']} dimensions; "
                    "semantic search scans its rows)"
                ))
                continue
            state = self.style.SUCCESS("created") if created else "exists"
            self.stdout.write(f"{alias}: {name} {state}")
        for name in stale_indexes(database):
            if drop_stale:
                drop_index(name, database)
                self.stdout.write(f"{name}: dropped (no configured embedder uses it)")
            else:
                self.stdout.write(f"{name}: stale (no configured embedder uses it); --drop-stale drops it")
