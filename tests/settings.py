"""Settings for django-rag's own test suite: a small Django project of its own.

The database is real PostgreSQL with pgvector: ``$DATABASE_URL`` when it is set,
otherwise an embedded server whose data lives in ``.pgdata/tests`` (ignored by git).
"""

import importlib.util
import os
import sys
from pathlib import Path

from django_rag.local_postgres import database_settings

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent

# The example site's app (example_project/site_pages) is installed below; make it
# importable for pytest and for `django-admin ... --settings=tests.settings` alike.
if str(REPO_DIR / "example_project") not in sys.path:
    sys.path.append(str(REPO_DIR / "example_project"))

SECRET_KEY = "django-rag-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_q",
    # django-ninja ships Swagger UI: installed, /api/docs serves it from static files
    # instead of a CDN, so the docs page works offline. (Not when ninja is missing:
    # tests/api/test_missing_ninja.py sets the project up without it.)
    *(["ninja"] if importlib.util.find_spec("ninja") else []),
    "django_rag",
    "tests.testapp",
    # The example site's pages, so the browser tests drive the very views `make run` serves.
    "site_pages",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
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

DATABASES = {"default": database_settings(REPO_DIR / ".pgdata" / "tests")}
# A suffix lets several test runs share one server (tox environments, parallel work).
DATABASES["default"]["TEST"] = {"NAME": "test_django_rag" + os.environ.get("DJANGO_RAG_TEST_DB_SUFFIX", "")}

STATIC_URL = "/static/"
# A worker started by a test (tests/surfaces/test_worker.py) is told the test's media directory.
MEDIA_ROOT = os.environ.get("DJANGO_RAG_TEST_MEDIA_ROOT") or REPO_DIR / "var" / "test-media"
MEDIA_URL = "/media/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DJANGO_RAG = {
    "EMBEDDERS": {
        "default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {"dimensions": 64}},
    },
    "CHUNK_SIZE": 400,
    "CHUNK_OVERLAP": 50,
    # The hashing embedder's own default gives its semantic leg weight 0 in hybrid
    # search; the tests exercise real two-leg fusion, so both legs count here.
    "HYBRID_WEIGHTS": {"semantic": 1.0, "keyword": 1.0},
    # Tests run tasks inline and ingest explicitly; the tests of the queue, the receivers
    # and the browser turn these back on (tests/surfaces/).
    "QUEUE": "sync",
    "INGEST_ON_SAVE": False,
    # A scripted provider fault fails at once; the retry tests (tests/reliability/) turn
    # retries back on, with short delays.
    "EMBED_RETRIES": 0,
    "EMBED_RETRY_DELAY": 0.05,
}
# Worker processes started by the reliability tests get their overrides here (JSON).
if os.environ.get("DJANGO_RAG_TEST_OVERRIDES"):
    import json

    DJANGO_RAG.update(json.loads(os.environ["DJANGO_RAG_TEST_OVERRIDES"]))

# django-q2 with its ORM broker: the worker test (tests/surfaces/test_worker.py) runs a
# real `qcluster` against the test database.
Q_CLUSTER = {"name": "django_rag_tests", "orm": "default", "workers": 1, "timeout": 60, "retry": 90, "poll": 0.1}

# Processes that the Redis tests start (tests/scaling/) are given a redis-server's URL:
# django-q2's broker and Django's cache live there, as on a site spread over machines.
REDIS_URL = os.environ.get("DJANGO_RAG_TEST_REDIS_URL")
if REDIS_URL:
    Q_CLUSTER = {
        "name": "django_rag_tests_redis", "redis": REDIS_URL, "workers": int(os.environ.get("DJANGO_RAG_TEST_Q_WORKERS", "1")),
        "timeout": 60, "retry": 90, "poll": 0.1,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Tests log users in (admin_client, the browser tests); a slow hasher costs ~1 s each.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
