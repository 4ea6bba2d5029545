"""The hand-written QueryLog insert stores what ``save()`` stores (issue 19, item 7)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from django_rag.generation.answers import save_log_entry
from django_rag.models import QueryLog


def _entry() -> QueryLog:
    return QueryLog(
        question="How many days?\nAsked twice — ünïcode", standalone_question="How many days of leave?",
        answer="Twenty [1].", cited_chunks=[3, 1], retrieved_chunks=[{"id": 1, "score": 0.5}], llm="scripted:x",
        embed_ms=1.25, retrieve_ms=2.5, generate_ms=None, total_ms=4.0, input_tokens=12, output_tokens=None,
        cache_hit=True, no_answer=False, error="",
    )


@pytest.mark.django_db(transaction=True)
def test_the_fast_insert_stores_the_row_save_stores():
    fast, orm = _entry(), _entry()
    with CaptureQueriesContext(connection) as queries:
        save_log_entry(fast)  # outside a transaction: the one-statement path
    assert [q["sql"] for q in queries.captured_queries][0].startswith("SELECT set_config('synchronous_commit'")
    orm.save()
    assert fast.pk and orm.pk and fast.pk != orm.pk
    stored_fast, stored_orm = QueryLog.objects.get(pk=fast.pk), QueryLog.objects.get(pk=orm.pk)
    ignored = {"id", "created_at"}
    fields = [f.name for f in QueryLog._meta.concrete_fields if f.name not in ignored]
    assert model_to_dict(stored_fast, fields) == model_to_dict(stored_orm, fields)
    assert not fast._state.adding and fast._state.db == "default"
