"""Another process of the site under test, started by tests/scaling/ with Redis settings.

    python tests/scaling/site_process.py upload COLLECTION_ID COUNT
        saves COUNT documents with ingestion on save on the django-q2 queue (Redis broker),
        as the site's web process does, and prints their ids;
    python tests/scaling/site_process.py qcluster
        runs ``manage.py qcluster`` and pushes "<this process id>:<document id>" onto the
        Redis list ``ingested_by`` whenever one of its workers ingests a document;
    python tests/scaling/site_process.py ask USERNAME QUESTION
        asks through the Redis cache and prints the answer as JSON.
"""

from __future__ import annotations

import json
import os
import sys

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402


def upload(collection_id: str, count: str) -> None:
    from django_rag.models import Document

    rag = {**settings.DJANGO_RAG, "INGEST_ON_SAVE": True, "QUEUE": "django_q"}
    with override_settings(DJANGO_RAG=rag):
        for n in range(int(count)):
            document = Document(collection_id=int(collection_id), title=f"Memo {n}")
            body = f"# Memo {n}\n\nMemo number {n} says the quarterly figure is {n * 7} units.\n"
            document.file.save(f"memo-{n}.md", ContentFile(body.encode()), save=False)
            document.save()  # post_save enqueues on commit; autocommit commits now
            print(document.pk, flush=True)


def qcluster() -> None:
    import redis

    from django_rag.signals import document_ingested

    cluster_pid = os.getpid()  # django-q2 forks its workers from this process
    client = redis.Redis.from_url(settings.REDIS_URL)

    def record(sender, document, result, **kwargs):
        if result.status == "ingested":
            client.rpush("ingested_by", f"{cluster_pid}:{document.pk}")

    document_ingested.connect(record, weak=False)
    call_command("qcluster")


def ask(username: str, question: str) -> None:
    import django_rag
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    answer = django_rag.ask(question, user=user)
    print(json.dumps({"text": answer.text, "cached": answer.cached,
                      "sources": [source.document.title for source in answer.sources]}))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"upload": upload, "qcluster": qcluster, "ask": ask}[command](*arguments)
