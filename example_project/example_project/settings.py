"""An ordinary Django site that uses django-rag the way a user would.

Offline by default: embedded PostgreSQL with pgvector (data in .pgdata/example), the
hashing embedder, extractive answers and no keys. Set OPENAI_API_KEY or OLLAMA_HOST to
embed and answer with a real provider, or DATABASE_URL to use your own PostgreSQL.
Uploads are ingested by a django-q2 worker on the ORM broker (`manage.py qcluster`,
which `make run` starts beside the web server).
"""

import os
from pathlib import Path

from django_rag.local_postgres import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    # django-ninja ships Swagger UI: installed, /api/docs serves it from static files
    # instead of a CDN, so the docs page works offline.
    "ninja",
    "django_rag",
    "site_pages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
LOGIN_URL = "admin:login"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example_project.wsgi.application"

# database_settings() keeps connections (CONN_MAX_AGE 60): a new PostgreSQL
# connection per request would cost most of a search (docs/deployment.md, check W085).
DATABASES = {"default": database_settings(REPO_DIR / ".pgdata" / "example")}

STATIC_URL = "static/"
MEDIA_URL = "media/"
MEDIA_ROOT = REPO_DIR / "var" / "example-media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# Django's default is America/Chicago: the admin, the pages and the logs would show that
# clock. Set DJANGO_TIME_ZONE (e.g. Europe/Berlin) to see your own.
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")


def _embedders():
    if os.environ.get("OPENAI_API_KEY"):
        return {"default": {"BACKEND": "django_rag.embedders.openai.Embedder",
                            "OPTIONS": {"model": "text-embedding-3-small"}}}
    if os.environ.get("OLLAMA_HOST"):
        return {"default": {"BACKEND": "django_rag.embedders.ollama.Embedder",
                            "OPTIONS": {"model": os.environ.get("OLLAMA_EMBED_MODEL", "nomic-embed-text")}}}
    return {"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 384}}}


def _llms():
    if os.environ.get("OPENAI_API_KEY"):
        return {"default": {"BACKEND": "django_rag.llms.openai.LLM",
                            "OPTIONS": {"model": os.environ.get("OPENAI_CHAT_MODEL", "gpt-4o-mini")}}}
    if os.environ.get("OLLAMA_HOST"):
        return {"default": {"BACKEND": "django_rag.llms.ollama.LLM",
                            "OPTIONS": {"model": os.environ.get("OLLAMA_CHAT_MODEL", "llama3.2")}}}
    return {"default": {"BACKEND": "django_rag.llms.extractive.LLM", "OPTIONS": {}}}


DJANGO_RAG = {"EMBEDDERS": _embedders(), "LLMS": _llms(), "DELETE_FILES": True}

# django-q2 on the ORM broker: the queue is a table in the same database, nothing else
# to run but the worker.
Q_CLUSTER = {"name": "example", "orm": "default", "workers": 1, "timeout": 300, "retry": 360}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_rag": {"handlers": ["console"], "level": "INFO"}},
}
