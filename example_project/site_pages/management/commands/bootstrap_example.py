"""First-start setup for the example site: a development admin user and the project's docs."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the development admin user and ingest the repository's docs/ (unchanged files are skipped)."

    def handle(self, *args, **options):
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created the development superuser admin / admin.")
        docs = Path(settings.REPO_DIR) / "docs"
        readme = Path(settings.REPO_DIR) / "README.md"
        paths = [str(p) for p in [docs, readme] if p.exists()]
        if paths:
            call_command("rag_ingest", *paths, collection="django-rag docs", sync=True, stdout=self.stdout, stderr=self.stderr)
