from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

import django_rag
from django_rag.exceptions import LLMTimeout
from django_rag.llms.testing import count_words
from django_rag.models import Document, QueryLog

POLICY = {
    "leave": "Employees get twenty days of paid parental leave. Leave must be requested a month ahead.",
    "expenses": "Travel expenses are reimbursed within thirty days when receipts are attached.",
    "laptops": "Laptops use full-disk encryption and lock after five minutes.",
}
TESTING_LLM = "django_rag.llms.testing.LLM"


@pytest.fixture
def handbook(db, collection):
    for title, text in POLICY.items():
        django_rag.ingest(Document.objects.create(collection=collection, title=title, text=text))
    return collection


@pytest.fixture
def scripted(rag_settings, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ask-tests"}}
    from django.core.cache import caches

    caches["default"].clear()

    def make(*responses, **options):
        rag_settings(LLMS={"default": {"BACKEND": TESTING_LLM, "OPTIONS": {"responses": list(responses), **options}}})
        from django_rag.llms import get_llm

        return get_llm()

    return make


@pytest.mark.django_db
def test_answer_with_citations_only_for_cited_sources(handbook, scripted):
    llm = scripted("Parental leave is twenty days [1].")
    answer = django_rag.ask("How many days of parental leave?", collection=handbook)
    assert answer.text == "Parental leave is twenty days [1]."
    assert [c.number for c in answer.citations] == [1]
    cited = answer.citations[0]
    assert cited.title == "leave" and cited.document.title == "leave" and "twenty days" in cited.snippet
    assert len(answer.sources) > 1  # more were retrieved and shown to the model...
    assert len(answer.citations) == 1  # ...but only the cited one is presented as a citation
    # The prompt numbered the sources and carried the question.
    (messages,) = llm.calls
    assert messages[0]["role"] == "system" and "[1]" in messages[0]["content"]
    assert "[1] leave" in messages[1]["content"] and "How many days of parental leave?" in messages[1]["content"]
    assert answer.usage["output_tokens"] == count_words(answer.text)
    assert answer.usage["input_tokens"] == sum(count_words(m["content"]) for m in messages)
    assert not answer.cached and answer.timings["retrieve"] >= 0


@pytest.mark.django_db
def test_out_of_range_and_repeated_citations(handbook, scripted):
    scripted("Twenty days [1][1]. Thirty days [2]. Made up [9].")
    answer = django_rag.ask("leave and expenses days", collection=handbook)
    assert [c.number for c in answer.citations] == [1, 2]
    assert "[9]" not in answer.text


@pytest.mark.django_db
def test_nothing_relevant_returns_the_no_answer_text_without_calling_the_llm(handbook, scripted):
    llm = scripted("should not be used")
    answer = django_rag.ask("zebra migration patterns in Kenya", collection=handbook)
    assert answer.no_answer and answer.citations == [] and llm.calls == []
    assert "don't know" in answer.text


@pytest.mark.django_db
def test_answers_are_cached_per_user_and_invalidated_by_reingestion(handbook, scripted):
    llm = scripted("First [1].", "Second [1].", "Third [1].")
    User = get_user_model()
    alice, bob = User.objects.create(username="alice"), User.objects.create(username="bob")
    # One document is private to alice, so alice and bob see different rows.
    Document.objects.filter(title="laptops").update(visibility="private", owner=alice)
    first = django_rag.ask("parental leave days", collection=handbook, user=alice)
    again = django_rag.ask("parental leave days", collection=handbook, user=alice)
    assert again.cached and again.text == first.text == "First [1]." and len(llm.calls) == 1
    assert again.citations[0].document.title == "leave"
    # Another user, who may see other rows, never gets alice's cached answer.
    other = django_rag.ask("parental leave days", collection=handbook, user=bob)
    assert not other.cached and other.text == "Second [1]."
    # A change to any document invalidates cached answers.
    leave = Document.objects.get(title="leave")
    leave.text = "Employees get twenty-five days of paid parental leave."
    leave.save()
    django_rag.ingest(leave)
    after = django_rag.ask("parental leave days", collection=handbook, user=alice)
    assert not after.cached and after.text == "Third [1]."


@pytest.mark.django_db
def test_users_who_see_the_same_rows_share_cached_answers(handbook, scripted):
    # Nothing is restricted: every user sees every row, so the answer is the same for
    # all of them and the filter (and its cost) is left out of their searches.
    llm = scripted("First [1].", "Second [1].")
    User = get_user_model()
    alice, bob = User.objects.create(username="alice"), User.objects.create(username="bob")
    assert django_rag.ask("parental leave days", collection=handbook, user=alice).text == "First [1]."
    shared = django_rag.ask("parental leave days", collection=handbook, user=bob)
    assert shared.cached and shared.text == "First [1]." and len(llm.calls) == 1
    # Once a document is restricted, bob no longer shares alice's scope.
    Document.objects.filter(title="laptops").update(visibility="private", owner=alice)
    assert not django_rag.ask("parental leave days", collection=handbook, user=bob).cached


@pytest.mark.django_db
def test_follow_up_is_condensed_before_retrieval(handbook, scripted):
    llm = scripted("How are travel expenses reimbursed?", "Within thirty days [1].")
    answer = django_rag.ask(
        "and how fast?",
        collection=handbook,
        history=[{"role": "user", "content": "Tell me about travel expenses"}, {"role": "assistant", "content": "Sure."}],
    )
    assert answer.standalone_question == "How are travel expenses reimbursed?"
    assert "Tell me about travel expenses" in llm.calls[0][0]["content"]
    assert answer.citations[0].document.title == "expenses"


@pytest.mark.django_db
def test_extractive_default_answers_offline_with_a_citation(handbook, rag_settings):
    rag_settings(CACHE=None)
    answer = django_rag.ask("How many days of parental leave do employees get?", collection=handbook)
    assert "twenty days" in answer.text
    assert answer.citations and answer.citations[0].document.title == "leave"


@pytest.mark.django_db
def test_provider_failure_raises_and_is_logged(handbook, scripted):
    scripted("x", fail_with="timeout")
    with pytest.raises(LLMTimeout):
        django_rag.ask("parental leave days", collection=handbook)
    log = QueryLog.objects.get()
    assert "LLMTimeout" in log.error and log.answer == ""


@pytest.mark.django_db
def test_query_log_records_the_answer(handbook, scripted):
    scripted("Twenty days [1].")
    answer = django_rag.ask("parental leave days", collection=handbook)
    log = QueryLog.objects.get(pk=answer.log_id)
    assert log.answer == "Twenty days [1]." and log.cited_chunks == [answer.citations[0].chunk_id]
    assert log.retrieve_ms is not None and log.generate_ms is not None
    assert log.output_tokens == count_words("Twenty days [1].")


@pytest.mark.django_db
def test_stream_yields_tokens_then_sources_then_done(handbook, scripted):
    scripted("Twenty days of leave [1].")
    events = list(django_rag.stream("parental leave days", collection=handbook))
    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["sources", "done"] and set(kinds[:-2]) == {"token"}
    assert "".join(e["text"] for e in events if e["type"] == "token") == "Twenty days of leave [1]."
    assert events[-2]["sources"][0]["title"] == "leave"


@pytest.mark.django_db
def test_stream_reports_provider_errors_as_an_event(handbook, scripted):
    scripted("x", fail_with="unavailable")
    events = list(django_rag.stream("parental leave days", collection=handbook))
    assert events[-1]["type"] == "error" and events[-1]["detail"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_aask(handbook, scripted):
    scripted("Twenty days [1].")
    answer = await django_rag.aask("parental leave days", collection=handbook.slug)
    assert answer.text == "Twenty days [1]."


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_questions_are_refused_clearly(question):
    with pytest.raises(ValueError):
        django_rag.ask(question)
