"""The WSGI site that benchmarks/api_load.py serves with gunicorn: the REST router at
/api/rag/ over the ``rag_api_load`` database, throttling off, the scripted test LLM; database
connections as ``$BENCH_CONNECTIONS`` says (``CONNECTIONS``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import setup_django  # noqa: E402

DATABASE = "rag_api_load"
RAG = {
    "EMBEDDERS": {"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 384}}},
    "LLMS": {"default": {"BACKEND": "django_rag.llms.testing.LLM", "OPTIONS": {"responses": ["A scripted answer [1]."]}}},
    # Every request does the full work: no answer or embedding cache, no throttle.
    "CACHE": None,
    "API_THROTTLE": None,
}
SITE = {
    "ROOT_URLCONF": "benchmarks.api_site",
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
    "SECRET_KEY": "benchmark-only",
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
}
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
#: How the served site keeps database connections, by the name api_load.py passes in
#: $BENCH_CONNECTIONS: Django's default (a connection per request), persistent
#: connections (one per server thread), or Django's psycopg pool (one pool per process,
#: as many connections as threads).
CONNECTIONS = {
    "per-request": {"CONN_MAX_AGE": 0},
    "persistent": {"CONN_MAX_AGE": 60},
    "pool": {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"min_size": THREADS, "max_size": THREADS}}},
}


def configure() -> None:
    from django.conf import settings

    if not settings.configured:
        mode = os.environ.get("BENCH_CONNECTIONS", "persistent")
        setup_django(DATABASE, rag=RAG, extra=SITE, installed=["django.contrib.sessions"], connection=CONNECTIONS[mode])


urlpatterns: list = []


def application_factory():
    configure()
    from django.core.wsgi import get_wsgi_application
    from django.urls import path
    from ninja import NinjaAPI

    api = NinjaAPI(title="api_load")
    api.add_router("/rag/", "django_rag.api.router")
    urlpatterns.append(path("api/", api.urls))
    return get_wsgi_application()
