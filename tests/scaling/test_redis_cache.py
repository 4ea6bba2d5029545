"""Django's own RedisCache on a real redis-server, shared by several processes of a site.

Each ``ask`` below runs in a new process (tests/scaling/site_process.py), as requests
served by different web servers would.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User

import django_rag
from django_rag.models import Document, Visibility

from .conftest import run_script

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUESTION = "How many days of parental leave do employees get?"


def ask_in_another_process(site_env, username: str, question: str = QUESTION) -> dict:
    return json.loads(run_script(site_env, "site_process.py", "ask", username, question))


@pytest.fixture
def reader(db):
    return User.objects.create_user("reader", password="x")


def test_an_answer_cached_by_one_process_is_a_hit_in_another(collection, reader, site_env, redis_client):
    document = Document.objects.create(
        collection=collection, title="Leave policy", text="Employees get twenty days of paid parental leave.",
    )
    assert django_rag.ingest(document).status == "ingested"

    first = ask_in_another_process(site_env, "reader")
    second = ask_in_another_process(site_env, "reader")
    assert first["cached"] is False and second["cached"] is True
    assert second["text"] == first["text"] and "twenty days" in first["text"]
    assert any(key.startswith(b":1:django_rag:answer:") for key in redis_client.keys("*"))


def test_reingesting_a_document_invalidates_answers_in_every_process(collection, reader, site_env, redis_client):
    document = Document.objects.create(
        collection=collection, title="Leave policy", text="Employees get twenty days of paid parental leave.",
    )
    django_rag.ingest(document)
    assert ask_in_another_process(site_env, "reader")["cached"] is False
    assert ask_in_another_process(site_env, "reader")["cached"] is True

    document.text = "Employees get thirty days of paid parental leave."
    document.save()
    assert django_rag.ingest(document).status == "ingested"

    after = ask_in_another_process(site_env, "reader")
    assert after["cached"] is False and "thirty days" in after["text"]


def test_a_permission_change_reaches_answers_cached_in_other_processes(collection, reader, site_env, redis_client):
    hr = Group.objects.create(name="HR")
    reader.groups.add(hr)
    secret = Document.objects.create(
        collection=collection, title="Salary bands", visibility=Visibility.PRIVATE,
        text="Parental leave salary bands are confidential: band C pays ninety percent of parental leave.",
    )
    secret.groups.add(hr)
    django_rag.ingest(secret)

    seen = ask_in_another_process(site_env, "reader", "What does band C pay during parental leave?")
    assert seen["sources"] == ["Salary bands"]
    assert ask_in_another_process(site_env, "reader", "What does band C pay during parental leave?")["cached"] is True

    reader.groups.remove(hr)  # no re-ingestion: only who may see the document changed

    hidden = ask_in_another_process(site_env, "reader", "What does band C pay during parental leave?")
    assert "Salary bands" not in hidden["sources"] and "ninety" not in hidden["text"]
