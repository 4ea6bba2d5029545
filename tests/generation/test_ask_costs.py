"""What ask() spends besides the embedder and the LLM: no needless data, no needless waits."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

import django_rag
from django_rag.models import QueryLog

from .test_ask import handbook, scripted  # noqa: F401 (fixtures)


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_log_row_does_not_wait_for_the_disk_outside_a_transaction(handbook, scripted):  # noqa: F811
    scripted("Parental leave is twenty days [1].")
    saved = []

    def on_save(sender, instance, created, **kwargs):
        saved.append((instance.pk, created))

    post_save.connect(on_save, sender=QueryLog)
    try:
        with CaptureQueriesContext(connection) as queries:
            answer = django_rag.ask("How many days of parental leave?", collection=handbook)
    finally:
        post_save.disconnect(on_save, sender=QueryLog)
    sql = [q["sql"] for q in queries.captured_queries]
    # One query string, one implicit transaction: the local setting covers just its commit.
    [log_sql] = [q for q in sql if 'INSERT INTO "django_rag_querylog"' in q]
    assert log_sql.startswith("SELECT set_config('synchronous_commit', 'off', true); INSERT")
    assert not any(q in {"BEGIN", "COMMIT"} or q.startswith("SET LOCAL") for q in sql)
    assert QueryLog.objects.get(pk=answer.log_id).answer == answer.text
    assert saved == [(answer.log_id, True)]  # as save() would signal
    assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_with_server_side_binding_the_log_row_gets_a_short_transaction(handbook, scripted):  # noqa: F811
    # Server-side binding cannot send two statements in one query: the row is written
    # with BEGIN, SET LOCAL, INSERT, COMMIT instead. Django picks the cursor class when
    # it connects (DATABASES OPTIONS "server_side_binding"); swap it on this connection.
    from django.db.backends.postgresql.base import ServerBindingCursor

    scripted("Parental leave is twenty days [1].")
    connection.ensure_connection()
    previous = connection.connection.cursor_factory
    connection.connection.cursor_factory = ServerBindingCursor
    try:
        with CaptureQueriesContext(connection) as queries:
            answer = django_rag.ask("How many days of parental leave?", collection=handbook)
    finally:
        connection.connection.cursor_factory = previous
    sql = [q["sql"] for q in queries.captured_queries]
    position = sql.index("SET LOCAL synchronous_commit TO OFF")
    assert sql[position + 1].startswith('INSERT INTO "django_rag_querylog"')
    assert QueryLog.objects.get(pk=answer.log_id).answer == answer.text
    # SET LOCAL ended with the log's own transaction.
    assert synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_callers_durability_is_untouched(handbook, scripted):  # noqa: F811
    scripted("Parental leave is twenty days [1].")
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            answer = django_rag.ask("How many days of parental leave?", collection=handbook)
        assert synchronous_commit() == "on"
    assert not any("synchronous_commit" in q["sql"] for q in queries.captured_queries)
    assert QueryLog.objects.filter(pk=answer.log_id).exists()


@pytest.mark.django_db
def test_documents_full_text_is_not_fetched(handbook, scripted):  # noqa: F811
    scripted("Parental leave is twenty days [1].")
    with CaptureQueriesContext(connection) as queries:
        answer = django_rag.ask("How many days of parental leave?", collection=handbook)
    assert answer.citations[0].document.title == "leave"
    retrieval = [q["sql"] for q in queries.captured_queries if "django_rag_chunk" in q["sql"]]
    assert retrieval and not any('"django_rag_document"."text"' in sql for sql in retrieval)
    # Still there on demand.
    assert "twenty days" in answer.citations[0].document.text


@pytest.mark.django_db
def test_access_rules_are_looked_up_once_per_question(handbook, scripted):  # noqa: F811
    scripted("Parental leave is twenty days [1].", "Again [1].")
    django_rag.ask("How many days of parental leave?", collection=handbook)  # fills the cache
    # A cache hit builds the key and re-checks the sources against the asker's filter;
    # an uncached question (another one) builds the key and retrieves: one lookup each.
    for question in ("How many days of parental leave?", "How are travel expenses paid?"):
        with CaptureQueriesContext(connection) as queries:
            django_rag.ask(question, collection=handbook)
        assert sum("NOT (visibility IN" in q["sql"] for q in queries.captured_queries) == 1
