"""The fast paths: the few places that bypass the ORM to save a measured millisecond.

Each does what an ORM call does, written by hand because building and compiling that
call cost a measurable share of a question's time in ``ask()`` (the figures are in
benchmarks/RESULTS.md, "ask() overhead"). Each names the ORM path it replaces, and
tests/test_fastpaths.py checks, on real rows, that it gives what that path gives: the
same rows in the same order with the same field values.

- :func:`fetch_top`: ``attach_ranking(queryset, sql, params).select_related("document")[:k]``
  as a list, for ``QuerySet.top()``.
- :func:`insert_log_row`: ``entry.save()`` of a new log row (``QueryLog``), in one
  round trip and without waiting for the disk.

Change them together with the path they replace. They sit in the retrieval layer,
below the models: the models come in through the QuerySet or the instance they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connections, router, transaction
from django.db.models import signals
from django.db.models.sql import InsertQuery

from .retrieval import RANKING_ALIAS, RANKING_COLUMNS, SEARCH_DEFERRED_FIELDS

# --- the top k as model instances, without the ORM's compiler --------------------------


_loaders: dict[tuple[Any, ...], tuple[list[str], list[tuple[Any, list[Any]]]]] = {}


def _loader(model: Any, fields: list[Any], connection: Any) -> tuple[list[str], list[tuple[Any, list[Any]]]]:
    """Attribute names and converters that turn a row's columns into ``model`` field values.

    The same converters the ORM's compiler applies (``from_db_value``, the backend's),
    worked out once per model, fields and database.
    """
    key = (model, tuple(field.attname for field in fields), connection.alias)
    if key not in _loaders:
        _loaders[key] = _make_loader(model, fields, connection)
    return _loaders[key]


def _make_loader(model: Any, fields: list[Any], connection: Any) -> tuple[list[str], list[tuple[Any, list[Any]]]]:
    table = model._meta.db_table
    columns = []
    for field in fields:
        col = field.get_col(table)
        columns.append((col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return [field.attname for field in fields], columns


def _instance(model: Any, db: str, loader: tuple[list[str], list[tuple[Any, list[Any]]]], values: Sequence[Any],
              connection: Any) -> Any:
    names, columns = loader
    converted = list(values)
    for n, (col, converters) in enumerate(columns):
        for converter in converters:
            converted[n] = converter(converted[n], col, connection)
    return model.from_db(db, names, converted)


def fetch_top(
    queryset: Any, sql: str, params: Sequence[Any], *, k: int, min_score: float | None = None,
    collections: bool = False,
) -> list[Any]:
    """The ``k`` best chunks of a ranking, with their documents (and collections), as a list.

    Replaces the ORM path ``list(attach_ranking(queryset, sql, params, min_score=min_score)
    .select_related("document").defer("embedding", "search_vector", "document__text")[:k])``
    (``select_related("document__collection")`` too with ``collections=True``): the same
    one statement, written here rather than by the ORM's compiler, whose building and
    compiling of that QuerySet was a large share of a question's time in ``ask()``
    (benchmarks/RESULTS.md, "ask() overhead", the ``QuerySet.top()`` row). The
    instances are what the QuerySet makes: the same deferred fields, the ranking columns
    as attributes, the document (and collection) cached on the relation. Only the
    ranking narrows the rows (``QuerySet.top()`` compiles the QuerySet's filters into
    it); the QuerySet's ordering, annotations and ``select_related`` do not carry over.
    """
    model, db = queryset.model, queryset.db
    # The models through the QuerySet's relations: this layer sits below django_rag.models.
    document_relation = model._meta.get_field("document")
    Document = document_relation.related_model
    collection_relation = Document._meta.get_field("collection")
    Collection = collection_relation.related_model
    connection = connections[db]
    qn = connection.ops.quote_name
    ranking = qn(RANKING_ALIAS)
    chunk_fields = [f for f in model._meta.concrete_fields if f.name not in SEARCH_DEFERRED_FIELDS]
    document_fields = [f for f in Document._meta.concrete_fields if f.name != "text"]
    collection_fields = list(Collection._meta.concrete_fields) if collections else []
    select = [f"c.{qn(f.column)}" for f in chunk_fields] + [f"{ranking}.{qn(name)}" for name in RANKING_COLUMNS]
    select += [f"d.{qn(f.column)}" for f in document_fields] + [f"o.{qn(f.column)}" for f in collection_fields]
    statement = (
        f"SELECT {', '.join(select)} FROM {qn(model._meta.db_table)} c"
        f" INNER JOIN ({sql}) {ranking} ON {ranking}.id = c.{qn(model._meta.pk.column)}"
        f" INNER JOIN {qn(Document._meta.db_table)} d"
        f" ON d.{qn(Document._meta.pk.column)} = c.{qn(document_relation.column)}"
    )
    if collections:
        statement += (
            f" LEFT OUTER JOIN {qn(Collection._meta.db_table)} o"
            f" ON o.{qn(Collection._meta.pk.column)} = d.{qn(collection_relation.column)}"
        )
    params = list(params)
    if min_score is not None:
        statement += f" WHERE {ranking}.score >= %s"
        params.append(min_score)
    statement += f" ORDER BY {ranking}.score DESC, {ranking}.best_rank, c.{qn(model._meta.pk.column)} LIMIT %s"
    params.append(int(k))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()

    chunk_loader = _loader(model, chunk_fields, connection)
    document_loader = _loader(Document, document_fields, connection)
    collection_loader = _loader(Collection, collection_fields, connection)
    ends = [len(chunk_fields), len(RANKING_COLUMNS), len(document_fields), len(collection_fields)]
    results = []
    for row in rows:
        first = ends[0]
        chunk = _instance(model, db, chunk_loader, row[:first], connection)
        for name, value in zip(RANKING_COLUMNS, row[first:first + ends[1]]):
            setattr(chunk, name, value)
        first += ends[1]
        document = _instance(Document, db, document_loader, row[first:first + ends[2]], connection)
        first += ends[2]
        if collections:
            values = row[first:first + ends[3]]
            collection = None if values[0] is None else _instance(Collection, db, collection_loader, values, connection)
            collection_relation.set_cached_value(document, collection)
        document_relation.set_cached_value(chunk, document)
        results.append(chunk)
    return results


# --- a log row, in one round trip and without waiting for the disk ----------------------


def insert_log_row(entry: Any) -> None:
    """Insert a new log row (a ``QueryLog``) without waiting for the disk.

    Replaces the ORM path ``entry.save()`` (an INSERT of a new row, in its own
    transaction): the row written has the same field values, ``pre_save`` and
    ``post_save`` are sent as ``save()`` sends them, and ``entry`` ends with its ``pk``
    and ``_state`` as ``save()`` leaves them. What it saves: a commit waits for its WAL
    record to reach the disk (most of a cached answer's cost), and BEGIN, SET LOCAL,
    INSERT and COMMIT one by one took four round trips (benchmarks/RESULTS.md, "ask()
    overhead": the QueryLog row).

    So outside a transaction the row is committed with ``synchronous_commit`` off: a
    row may be lost if the server crashes in the next fraction of a second, which a
    trace can afford (never a risk of corruption, only of losing the latest rows); for
    rows that must not be lost, use ``save()``. ``set_config(..., is_local)`` and the
    INSERT go as one query string, which PostgreSQL runs as one implicit transaction,
    so the setting covers exactly this row's commit. Inside a caller's transaction the
    setting would apply to the caller's writes too, so the row is written with
    ``save()`` there.
    """
    model = type(entry)
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.in_atomic_block:
        entry.save(using=using)
        return
    with connection.cursor() as cursor:
        # Several statements in one execute() need client-side binding, Django's default
        # (DATABASES OPTIONS "server_side_binding" turns it off).
        if not isinstance(cursor.cursor, psycopg.ClientCursor):
            with transaction.atomic(using=using):
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                entry.save(using=using)
            return
        signals.pre_save.send(sender=model, instance=entry, raw=False, using=using, update_fields=None)
        query = InsertQuery(model)
        query.insert_values([f for f in model._meta.local_concrete_fields if not f.primary_key], [entry])
        compiler = query.get_compiler(using=using)
        compiler.returning_fields = [model._meta.pk]
        [(sql, params)] = compiler.as_sql()
        cursor.execute("SELECT set_config('synchronous_commit', 'off', true); " + sql, params)
        cursor.cursor.nextset()  # the INSERT's result: RETURNING id
        entry.pk = cursor.fetchone()[0]
    entry._state.adding, entry._state.db = False, using
    signals.post_save.send(sender=model, instance=entry, created=True, update_fields=None, raw=False, using=using)
