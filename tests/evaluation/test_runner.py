"""rag_eval and django_rag.evaluate() end to end on real PostgreSQL, with the tiny fixtures."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

import django_rag
from django_rag.evaluation import ndcg_at_k, mrr_at_k, recall_at_k
from django_rag.ingestion import ingest
from django_rag.models import Chunk, Collection, Document, EvalResult, EvalRun

from .conftest import DATA

pytestmark = pytest.mark.django_db


def test_rag_eval_on_a_beir_dataset(testing_embedder, capsys):
    embedder = testing_embedder()
    call_command("rag_eval", str(DATA / "tiny-beir"), mode="all", k=3, name="tiny")
    out = capsys.readouterr()
    # The corpus went into a collection of its own, one document per entry.
    collection = Collection.objects.get(slug="eval-tiny-beir")
    assert Document.objects.filter(collection=collection, status="ready").count() == 8
    assert Chunk.objects.filter(document__collection=collection).count() >= 8

    runs = list(EvalRun.objects.order_by("pk"))
    assert [run.mode for run in runs] == ["keyword", "semantic", "hybrid"]
    for run in runs:
        assert (run.status, run.k, run.question_count, run.name) == ("finished", 3, 4, "tiny")
        results = list(run.results.order_by("pk"))
        assert [r.question_id for r in results] == ["q1", "q2", "q3", "q4"]  # q5 has no judgments
        # The stored means are the means of the stored per-question scores, which are the
        # metrics of the stored rankings.
        for result in results:
            assert len(result.retrieved) <= 3
            assert result.ndcg == pytest.approx(ndcg_at_k(result.retrieved, result.relevant, 3))
            assert result.mrr == pytest.approx(mrr_at_k(result.retrieved, result.relevant, 3))
            assert result.recall == pytest.approx(recall_at_k(result.retrieved, result.relevant, 3))
            assert result.latency_ms > 0 and result.answer == ""
        assert run.ndcg == pytest.approx(sum(r.ndcg for r in results) / 4)
        assert run.metrics["ndcg@3"] == pytest.approx(run.ndcg)
        assert run.settings_snapshot["embedder"]["identity"] == embedder.identity
        assert run.settings_snapshot["chunking"]["CHUNK_SIZE"] == 400
        assert run.settings_snapshot["search"]["weights"] == {"semantic": 1.0, "keyword": 1.0}
    keyword = runs[0].results.get(question_id="q1")
    assert keyword.retrieved[:2] == ["d1", "d8"]  # the two leave documents, the more relevant first
    assert keyword.ndcg == 1.0
    # The table: one row per mode, the columns that were measured.
    assert "| mode     | nDCG@3 | recall@3 | MRR@3 | p50 ms |" in out.out
    assert f"| keyword  | {runs[0].ndcg:.3f}" in out.out
    assert "faithfulness" not in out.out  # the offline extractive LLM does not judge
    assert "ingest" in out.err and "hybrid" in out.err  # progress bars

    # A rerun ingests nothing again and stores new runs beside the old ones.
    embedder.reset()
    call_command("rag_eval", str(DATA / "tiny-beir"), mode="keyword", k=3)
    assert embedder.calls == []
    assert EvalRun.objects.count() == 4
    assert EvalRun.objects.latest("pk").ndcg == pytest.approx(runs[0].ndcg)


def test_a_changed_corpus_is_synchronised(tmp_path, testing_embedder):
    dataset = tmp_path / "tiny-beir"
    shutil.copytree(DATA / "tiny-beir", dataset)
    django_rag.evaluate(dataset, mode="keyword", answers=False)
    lines = (dataset / "corpus.jsonl").read_text().splitlines()
    changed = json.loads(lines[1]) | {"text": "Staff may work remotely on Fridays only."}
    kept = [line for line in lines if '"d6"' not in line]  # d6 leaves the corpus
    kept[1] = json.dumps(changed)
    (dataset / "corpus.jsonl").write_text("\n".join(kept) + "\n")
    runs = django_rag.evaluate(dataset, mode="keyword", answers=False)
    collection = runs[0].collection
    assert sorted(Document.objects.filter(collection=collection).values_list("metadata__beir_id", flat=True)) == [
        "d1", "d2", "d3", "d4", "d5", "d7", "d8",
    ]
    assert Chunk.objects.filter(document__collection=collection, content__contains="Fridays only").exists()


JUDGE_REPLY = json.dumps({
    # One reply that answers every judge prompt (each reads its own keys), so the
    # scores do not depend on how many contexts each question retrieves.
    "statements": ["Employees get twenty days of parental leave."],
    "verdicts": [{"statement": 1, "verdict": 1}],
    "questions": ["How many days of parental leave do employees get?"],
    "noncommittal": 0,
    "verdict": 1,
    "sentences": [{"sentence": "Twenty days.", "attributed": 1}, {"sentence": "Paid.", "attributed": 0}],
})


@pytest.fixture
def handbook(make_document, testing_embedder):
    testing_embedder()
    texts = {
        "parental-leave": "Employees receive twenty days of paid parental leave after the birth of a child.",
        "remote-work": "Staff may work from home up to three days a week with their manager's agreement.",
        "pension": "The company matches pension contributions up to five percent of salary.",
        "laptops": "Every engineer gets a laptop, replaced every three years.",
    }
    for slug, text in texts.items():
        document = make_document(text, name="", title=slug.replace("-", " ").title(), metadata={"slug": slug})
        assert ingest(document).ok
    return Collection.objects.get(slug="handbook")


def test_questions_file_with_answers_judged(handbook, scripted_llms, rag_settings):
    rag_settings(EVAL_JUDGE_LLM="judge")
    llms = scripted_llms(default=["Employees get twenty days [1]."], judge=[JUDGE_REPLY])
    runs = django_rag.evaluate(
        DATA / "questions.jsonl", collection="handbook", id_field="metadata.slug", mode=["keyword", "hybrid"]
    )
    assert [run.mode for run in runs] == ["keyword", "hybrid"]
    run = runs[0]
    assert run.status == "finished" and run.collection == handbook
    leave, remote, pension = run.results.order_by("pk")
    assert leave.retrieved[0] == "parental-leave" and leave.ndcg == 1.0
    assert remote.relevant == {"remote-work": 2}
    # Answers came from the answering LLM, with the chunks it was given.
    assert leave.answer == "Employees get twenty days [1]."
    assert leave.contexts and set(leave.contexts) <= set(Chunk.objects.values_list("pk", flat=True))
    # Judged by the judge alias: faithfulness 1/1, context precision 1, context recall 1/2.
    assert (leave.faithfulness, leave.context_precision, leave.context_recall) == (1.0, 1.0, 0.5)
    embedder = django_rag.embedders.get_embedder()
    q = np.asarray(embedder.embed_query(leave.question))
    g = np.asarray(embedder.embed_query("How many days of parental leave do employees get?"))
    assert leave.answer_relevancy == pytest.approx(float(q @ g / np.linalg.norm(q) / np.linalg.norm(g)))
    assert pension.context_recall is None  # no reference answer
    assert run.context_recall == pytest.approx(0.5)
    assert run.faithfulness == 1.0 and run.answer_relevancy is not None
    assert run.settings_snapshot["answers"]["judge"] == "django_rag:testing:scripted"
    assert leave.judgments["statements"] == ["Employees get twenty days of parental leave."]
    # The judge alias judged; the answering alias only answered.
    assert any("standalone statements" in call[0]["content"] for call in llms["judge"].calls)
    assert not any("standalone statements" in m["content"] for call in llms["default"].calls for m in call)
    assert len(llms["default"].calls) == 6  # 3 questions x 2 modes
    assert runs[1].faithfulness == 1.0


def test_command_errors_name_the_problem(handbook, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "fine"}\n{"question": \n')
    with pytest.raises(CommandError, match=r"broken.jsonl, line 2: not valid JSON"):
        call_command("rag_eval", str(broken), collection="handbook")
    with pytest.raises(CommandError, match=r"No collection 'nowhere'"):
        call_command("rag_eval", str(DATA / "questions.jsonl"), collection="nowhere")
    # Primary keys are the default id field: the slugs in this file are not document ids.
    with pytest.raises(CommandError, match=r"Question 'leave': relevant document 'parental-leave' is not among"):
        call_command("rag_eval", str(DATA / "questions.jsonl"), collection="handbook")
    # The extractive default LLM cannot judge: asking for answer metrics says what to configure.
    with pytest.raises(CommandError, match=r'EVAL_JUDGE_LLM'):
        call_command("rag_eval", str(DATA / "questions.jsonl"), collection="handbook",
                     id_field="metadata.slug", answers=True)
    with pytest.raises(CommandError, match="--k must be at least 1"):
        call_command("rag_eval", str(DATA / "questions.jsonl"), k=0)
    assert not EvalRun.objects.exists()  # nothing half-made was stored


def test_an_interrupted_run_keeps_what_it_measured(handbook):
    def interrupt(done, total, label):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        django_rag.evaluate(DATA / "questions.jsonl", collection=handbook, id_field="metadata.slug",
                            mode="keyword", progress=interrupt)
    run = EvalRun.objects.get()
    assert run.status == "failed" and "KeyboardInterrupt" in run.error
    assert run.results.count() == 2 and run.ndcg is not None and run.finished_at


def test_admin_lists_shows_and_compares_runs(admin_client, handbook):
    first = django_rag.evaluate(DATA / "questions.jsonl", collection=handbook, id_field="metadata.slug",
                                mode="keyword", name="before")[0]
    second = django_rag.evaluate(DATA / "questions.jsonl", collection=handbook, id_field="metadata.slug",
                                 mode="semantic", name="after")[0]
    changelist = admin_client.get(reverse("admin:django_rag_evalrun_changelist"))
    assert changelist.status_code == 200
    assert b"before" in changelist.content and b"NDCG@k" in changelist.content  # capfirst
    change = admin_client.get(reverse("admin:django_rag_evalrun_change", args=[first.pk]))
    assert change.status_code == 200 and b"How many days of parental leave" in change.content
    compare = admin_client.post(
        reverse("admin:django_rag_evalrun_changelist"),
        {"action": "compare_runs", "_selected_action": [first.pk, second.pk]},
    )
    assert compare.status_code == 200
    html = compare.content.decode()
    assert "Compare evaluation runs" in html and "Settings that differ" in html
    assert "<th>mode</th><td>keyword</td><td>semantic</td>" in html.replace("\n", "")
    result = first.results.first()
    detail = admin_client.get(reverse("admin:django_rag_evalresult_change", args=[result.pk]))
    assert detail.status_code == 200
    assert admin_client.get(reverse("admin:django_rag_evalrun_add")).status_code == 403


def test_documents_named_by_title(handbook, tmp_path):
    questions = tmp_path / "by-title.jsonl"
    questions.write_text(json.dumps({"question": "Can staff work from home?", "relevant_document_ids": ["Remote Work"]}))
    run, = django_rag.evaluate(questions, collection="handbook", id_field="title", mode="keyword")
    result = run.results.get()
    assert result.retrieved[0] == "Remote Work" and result.mrr == 1.0
    with pytest.raises(ValueError, match="id_field must be 'pk', a Document field or 'metadata.<key>'"):
        django_rag.evaluate(questions, collection="handbook", id_field="nonsense")
    with pytest.raises(ValueError, match="mode must be one of"):
        django_rag.evaluate(questions, collection="handbook", id_field="title", mode="fuzzy")


def test_beir_judgments_of_documents_missing_from_the_corpus_count_as_not_found(tmp_path, testing_embedder):
    dataset = tmp_path / "tiny-beir"
    shutil.copytree(DATA / "tiny-beir", dataset)
    with (dataset / "qrels" / "test.tsv").open("a") as qrels:
        qrels.write("q2\td99\t1\n")  # as in BEIR: scored, never retrievable
    run, = django_rag.evaluate(dataset, mode="keyword")
    result = run.results.get(question_id="q2")
    assert result.relevant == {"d2": 1, "d99": 1}
    assert result.retrieved[0] == "d2" and result.recall == 0.5


def test_bm25_impacts_are_exact_after_loading_a_corpus(testing_embedder):
    from django.db import connection

    from django_rag import bm25

    def impacts():
        with connection.cursor() as cursor:
            cursor.execute("SELECT chunk_id, lexeme, impact FROM django_rag_posting ORDER BY 1, 2")
            return cursor.fetchall()

    django_rag.evaluate(DATA / "tiny-beir", mode="keyword")
    loaded = impacts()
    bm25.rebuild()  # what the impacts are with the final average chunk length
    assert loaded and impacts() == loaded


def test_a_beir_corpus_never_goes_into_a_collection_of_site_documents(handbook):
    before = Document.objects.filter(collection=handbook).count()
    with pytest.raises(CommandError, match="'handbook' holds documents that do not come from a BEIR corpus"):
        call_command("rag_eval", str(DATA / "tiny-beir"), collection="handbook")
    assert Document.objects.filter(collection=handbook).count() == before == 4
    assert not EvalRun.objects.exists()


def test_limit_and_candidates_options(handbook, capsys):
    call_command("rag_eval", str(DATA / "questions.jsonl"), collection="handbook", id_field="metadata.slug",
                 mode="keyword", limit=2, candidates=7, name="first two")
    run = EvalRun.objects.get()
    assert (run.question_count, run.results.count(), run.name) == (2, 2, "first two")
    assert run.settings_snapshot["search"]["candidates"] == 7
    assert "questions dataset questions: 2 questions" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("rag_eval", str(DATA / "questions.jsonl"), limit=0)


API_KEY = "proj-judge-7c1e94b2d03a5f68"


def test_a_real_openai_client_judges_and_its_failures_are_kept_without_the_key(handbook, scripted_llms, rag_settings):
    """The judge is the OpenAI backend (real langchain-openai client) against the 127.0.0.1 fake server."""
    from tests.fake_providers import FakeProvider

    with FakeProvider(chat_reply=JUDGE_REPLY) as fake:
        scripted_llms(default=["Employees get twenty days [1]."])
        rag_settings(
            LLMS={
                **django_rag.conf.get_setting("LLMS"),
                "judge": {"BACKEND": "django_rag.llms.openai.LLM", "OPTIONS": {
                    "base_url": fake.openai_url, "api_key": API_KEY, "model": "gpt-4.1-nano", "max_retries": 0,
                }},
            },
            EVAL_JUDGE_LLM="judge",
        )
        # The first question's first judge call is refused with a 401 that echoes the key.
        fake.fail("unauthorized")
        run, = django_rag.evaluate(DATA / "questions.jsonl", collection=handbook, id_field="metadata.slug",
                                   mode="keyword")
        leave, remote, pension = run.results.order_by("pk")
        assert leave.faithfulness is None and "faithfulness: LLM" in leave.error
        assert API_KEY not in leave.error and API_KEY[5:14] not in leave.error
        assert leave.context_precision == 1.0  # the other metrics of that question were still judged
        assert (remote.faithfulness, remote.context_recall, remote.error) == (1.0, 0.5, "")
        assert run.status == "finished" and run.faithfulness == 1.0
        assert run.settings_snapshot["answers"]["judge"] == "django_rag:openai:gpt-4.1-nano"
        judged = [r for r in fake.requests if r.path.endswith("/chat/completions")]
        assert judged and all(r.json["temperature"] == 0.0 for r in judged)
        assert API_KEY not in json.dumps(run.settings_snapshot)
