from django.core.management.base import BaseCommand

from django_rag.vector_indexes import ensure_all_indexes


class Command(BaseCommand):
    help = "Create the partial HNSW index of every embedder in DJANGO_RAG['EMBEDDERS'] that lacks one."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        for alias, name, created in ensure_all_indexes(database):
            state = self.style.SUCCESS("created") if created else "exists"
            self.stdout.write(f"{alias}: {name} {state}")
