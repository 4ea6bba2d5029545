"""``evaluate()``: run a dataset's questions through search (and answers), store the scores.

For each retrieval mode one :class:`~django_rag.models.EvalRun` is stored, with one
:class:`~django_rag.models.EvalResult` per question. A document's rank is the rank of
its best chunk among the ``candidates`` chunks a search returns, as in
``benchmarks/quality.py``; recall@k, MRR@k and nDCG@k are then computed over the top k
documents with BEIR's definitions (:mod:`django_rag.evaluation.metrics`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .. import __version__, bm25, validation
from ..conf import DEFAULT_EMBEDDER_ALIAS, DEFAULT_LLM_ALIAS, get_setting
from ..exceptions import DjangoRAGError
from ..models import Chunk, Collection, Document, EvalResult, EvalRun
from ..redaction import redact
from ..retrieval import RankingOptions, resolve_embedder
from .datasets import BEIR, Dataset, DatasetError, EvalQuestion, load_dataset
from .judge import ANSWER_METRICS, Judge, RagasJudge, ragas_available
from .metrics import mrr_at_k, ndcg_at_k, recall_at_k

if TYPE_CHECKING:
    from ..retrieval import Mode

MODES = ("keyword", "semantic", "hybrid")
RETRIEVAL_METRICS = ("ndcg", "recall", "mrr")
#: The metadata key that holds a BEIR document's corpus id.
BEIR_ID = "beir_id"

Progress = Callable[[int, int, str], Any]
#: The search options RankingOptions.build() checks.
SEARCH_NUMBERS = ("candidates", "rrf_k", "weights", "postings_per_term")


def evaluate(
    dataset: Dataset | str | Path,
    *,
    mode: str | Sequence[str] = "hybrid",
    k: int = 10,
    collection: Collection | str | int | None = None,
    split: str | None = None,
    id_field: str = "pk",
    limit: int | None = None,
    answers: bool | None = None,
    llm: str = DEFAULT_LLM_ALIAS,
    judge_llm: str | None = None,
    use_ragas: bool | None = None,
    embedder: str | None = None,
    name: str = "",
    user: Any = None,
    progress: Progress | None = None,
    **search: Any,
) -> list[EvalRun]:
    """Evaluate retrieval (and answers) on ``dataset``; returns one saved :class:`EvalRun` per mode.

    ``dataset`` is a BEIR directory, a questions ``.jsonl`` file (see
    :mod:`django_rag.evaluation.datasets`) or a loaded :class:`Dataset`. A BEIR corpus is
    ingested into ``collection`` (default: a collection named after the dataset;
    unchanged documents cost nothing on a rerun); questions files are asked against
    ``collection`` (default: every document). ``mode`` is one of ``keyword``, ``semantic``,
    ``hybrid``, ``all`` or a list of them. ``answers``: also generate answers with
    ``llm`` and score them with the judge (``judge_llm``, default
    ``DJANGO_RAG["EVAL_JUDGE_LLM"]`` or ``llm``); ``None`` does so when the judge can
    write text (not the extractive LLM). Other keyword arguments go to the search
    (``candidates``, ``weights``, ``rrf_k``...). ``progress(done, total, label)`` is
    called after each question. ``embedder``: the alias whose vectors the semantic leg
    searches (default: the active one, see ``rag_activate_embedder``), so that two
    embedders compare on the same questions before a switch.
    """
    from ..embedder_state import in_side_table

    modes = _modes(mode)
    k = validation.k_value(k)
    if limit is not None:
        limit = validation.integer("limit", limit, maximum=validation.INT8_MAX)
    # The search options' numbers are checked before a corpus is loaded or a run stored.
    RankingOptions.build(**{name: search[name] for name in SEARCH_NUMBERS if name in search})
    if search.get("min_score") is not None:
        validation.number("min_score", search["min_score"])
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset, split=split)
    questions = dataset.questions[:limit] if limit else dataset.questions
    # Configuration errors surface before a corpus is loaded or a run is stored.
    judge = _make_judge(answers, llm, judge_llm, embedder, use_ragas)
    model = resolve_embedder(embedder)
    if dataset.format == BEIR:
        # A re-embedded embedder's vectors come with ingestion (django_rag.reembed): the
        # corpus is ingested with the chunks' own embedder, never re-ingested per embedder.
        ingest_with = DEFAULT_EMBEDDER_ALIAS if embedder is None or in_side_table(model) else embedder
        collection = ingest_beir_corpus(dataset, collection, embedder=ingest_with, progress=progress)
        id_field = f"metadata.{BEIR_ID}"
    else:
        collection = _resolve_collection(collection)
    chunks = Chunk.objects.visible_to(user)
    if collection is not None:
        chunks = chunks.filter(document__collection=collection)
    external_ids = document_ids(collection, id_field, user=user)
    if dataset.format != BEIR:
        # A typo in id_field would otherwise score every question 0. (BEIR judgments
        # that name a document missing from the corpus count as not found, as in BEIR.)
        _check_relevant_ids(questions, external_ids, id_field)

    query_vectors: dict[str, list[float]] = {}
    runs = []
    for current_mode in modes:
        run = EvalRun.objects.create(
            name=name, dataset=str(dataset.path), dataset_format=dataset.format, collection=collection,
            mode=current_mode, k=k, question_count=len(questions), created_by=_user_or_none(user),
            settings_snapshot=settings_snapshot(
                dataset, current_mode, k=k, embedder=model, llm=llm if judge else None, judge=judge,
                id_field=id_field, search=search,
            ),
        )
        results: list[EvalResult] = []
        try:
            for done, question in enumerate(questions, start=1):
                if question.id not in query_vectors and current_mode != "keyword":
                    query_vectors[question.id] = model.embed_query(question.question)
                result = _evaluate_question(
                    run, question, chunks, external_ids, search=search, vector=query_vectors.get(question.id),
                    embedder=model,
                )
                if judge is not None:
                    _judge_answer(result, judge, collection=collection, llm=llm, user=user, embedder=model,
                                  search=search)
                results.append(result)
                if progress:
                    progress(done, len(questions), current_mode)
        except BaseException as exc:
            # Keep what was measured: the questions done so far and why the run stopped.
            _finish(run, results, error=redact(f"{type(exc).__name__}: {exc}"))
            raise
        _finish(run, results)
        runs.append(run)
    return runs


def _modes(mode: str | Sequence[str]) -> list[str]:
    modes = list(MODES) if mode == "all" else [mode] if isinstance(mode, str) else list(mode)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"mode must be one of {', '.join(MODES)} or 'all', not {unknown or mode!r}.")
    return modes


def _resolve_collection(collection: Collection | str | int | None) -> Collection | None:
    if collection is None or isinstance(collection, Collection):
        return collection
    lookup = {"pk": collection} if isinstance(collection, int) else {"slug": collection}
    try:
        return Collection.objects.get(**lookup)
    except Collection.DoesNotExist:
        raise DatasetError(f"No collection {collection!r}: questions are asked against an existing collection.") from None


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def ingest_beir_corpus(
    dataset: Dataset,
    collection: Collection | str | int | None = None,
    *,
    embedder: str = DEFAULT_EMBEDDER_ALIAS,
    progress: Progress | None = None,
) -> Collection:
    """Load a BEIR corpus into a collection of its own (one Document per corpus entry) and ingest it.

    Documents are matched by ``metadata["beir_id"]``: changed ones are updated, ones no
    longer in the corpus deleted, and :func:`~django_rag.ingestion.ingest` skips the
    unchanged, so a rerun costs one pass over the corpus file.
    """
    from ..ingestion import ingest

    if isinstance(collection, Collection):
        target = collection
    elif isinstance(collection, int):
        found = _resolve_collection(collection)
        assert found is not None  # an id gives its collection or a DatasetError
        target = found
    else:
        slug = slugify(collection or f"eval-{dataset.name}")
        target, _ = Collection.objects.get_or_create(slug=slug, defaults={"name": collection or f"Evaluation: {dataset.name}"})
    foreign = Document.objects.filter(collection=target).exclude(metadata__has_key=BEIR_ID)
    if foreign.exists():
        # Synchronising the collection with the corpus deletes what is not in it: never
        # in a collection that holds a site's own documents.
        raise DatasetError(
            f"Collection {target.slug!r} holds documents that do not come from a BEIR corpus; "
            "a BEIR corpus is loaded into a collection of its own (choose another --collection)."
        )
    existing = {
        row["metadata__beir_id"]: row
        for row in Document.objects.filter(collection=target).values("pk", "title", "text", "metadata__beir_id")
    }
    new, changed, seen = [], [], set()
    for entry in dataset.corpus():
        seen.add(entry["_id"])
        # Title and body as a site would store them (the same as benchmarks/quality.py):
        # with CHUNK_CONTEXT the title is searched and embedded with every chunk.
        title, text = entry["title"][:500], entry["text"]
        row = existing.get(entry["_id"])
        if row is None:
            new.append(Document(collection=target, title=title, text=text,
                                metadata={BEIR_ID: entry["_id"], "format": "text"}))
        elif (row["title"], row["text"]) != (title, text):
            changed.append(Document(pk=row["pk"], title=title, text=text))
    with transaction.atomic():
        Document.objects.bulk_create(new, batch_size=1000)
        Document.objects.bulk_update(changed, ["title", "text"], batch_size=1000)
        gone = [row["pk"] for beir_id, row in existing.items() if beir_id not in seen]
        Document.objects.filter(pk__in=gone).delete()
    pending = list(Document.objects.filter(collection=target).order_by("pk").values_list("pk", flat=True))
    failures, ingested = [], 0
    for done, document_id in enumerate(pending, start=1):
        result = ingest(document_id, embedder=embedder)
        ingested += result.status == "ingested"
        if not result.ok:
            failures.append(f"document {document_id}: {result.error}")
        if progress:
            progress(done, len(pending), "ingest")
    if failures:
        raise DatasetError(f"{len(failures)} corpus document(s) could not be ingested; first: {failures[0]}")
    if ingested:
        # Each BM25 posting's impact uses the average chunk length of the moment it was
        # written, which drifts while a corpus grows from nothing; recompute them so the
        # keyword scores do not depend on the order the corpus was loaded in.
        bm25.rebuild()
    return target


def document_ids(collection: Collection | None, id_field: str, *, user: Any = None) -> dict[int, str]:
    """Document primary key -> the id the dataset uses for it.

    ``id_field`` is ``pk``, another field of Document (``title``, ``source_url``...) or
    ``metadata.<key>``.
    """
    documents = Document.objects.visible_to(user)
    if collection is not None:
        documents = documents.filter(collection=collection)
    prefix, _, key = id_field.partition(".")
    if prefix == "metadata" and key:
        lookup = f"metadata__{key}"
    elif not key and id_field in {"pk", *(f.name for f in Document._meta.concrete_fields)}:
        lookup = id_field
    else:
        raise ValueError(f"id_field must be 'pk', a Document field or 'metadata.<key>', not {id_field!r}.")
    rows = documents.exclude(**{f"{lookup}__isnull": True}).values_list("pk", lookup)
    return {pk: str(value) for pk, value in rows if value != ""}


def _check_relevant_ids(questions: Iterable[EvalQuestion], external_ids: dict[int, str], id_field: str) -> None:
    known = set(external_ids.values())
    for question in questions:
        for doc_id in question.relevant:
            if doc_id not in known:
                raise DatasetError(
                    f"Question {question.id!r}: relevant document {doc_id!r} is not among the documents searched "
                    f"(matched by {id_field}); check the collection and id_field."
                )


def _make_judge(
    answers: bool | None, llm: str, judge_llm: str | None, embedder: str | None, use_ragas: bool | None
) -> Judge | None:
    from ..llms import get_llm

    if answers is False:
        return None
    get_llm(llm)  # a misconfigured answering LLM fails here, before any run is stored
    judge_model = get_llm(judge_llm or get_setting("EVAL_JUDGE_LLM") or llm)
    if not getattr(judge_model, "can_condense", True):
        if answers:
            raise DjangoRAGError(
                f"LLM {judge_model.alias!r} ({judge_model.identity}) cannot judge answers: it does not write text. "
                'Configure a generative LLM and name it in DJANGO_RAG["EVAL_JUDGE_LLM"] or judge_llm=.'
            )
        return None
    if use_ragas is None:
        use_ragas = ragas_available()
    if use_ragas and not ragas_available():
        raise DjangoRAGError("use_ragas=True, but the ragas package is not installed (pip install ragas).")
    return (RagasJudge if use_ragas else Judge)(judge_model, resolve_embedder(embedder))


def settings_snapshot(
    dataset: Dataset, mode: str, *, k: int, embedder: Any, llm: str | None, judge: Judge | None, id_field: str,
    search: dict[str, Any],
) -> dict[str, Any]:
    """What shaped a run's numbers: enough to tell two runs apart in the admin."""
    options = RankingOptions.build(
        candidates=search.get("candidates"), rrf_k=search.get("rrf_k"), weights=search.get("weights"),
        postings_per_term=search.get("postings_per_term"), embedder=embedder,
    )
    from ..llms import get_llm

    return {
        "django_rag": __version__,
        "dataset": {"name": dataset.name, "format": dataset.format, "split": dataset.split, "id_field": id_field},
        "mode": mode,
        "k": k,
        "embedder": {"alias": embedder.alias, "identity": embedder.identity},
        "chunking": {
            "CHUNK_SIZE": get_setting("CHUNK_SIZE"),
            "CHUNK_OVERLAP": get_setting("CHUNK_OVERLAP"),
            "CHUNK_UNIT": get_setting("CHUNK_UNIT"),
            "SEPARATORS": list(get_setting("SEPARATORS")),
            "CHUNK_CONTEXT": get_setting("CHUNK_CONTEXT"),
        },
        "search": {
            "candidates": options.candidates,
            "rrf_k": options.rrf_k,
            "weights": {"semantic": options.semantic_weight, "keyword": options.keyword_weight},
            "postings_per_term": options.postings_per_term,
            "language": search.get("language") or get_setting("DEFAULT_LANGUAGE"),
        },
        "answers": (
            {"llm": get_llm(llm).identity, "answer_k": get_setting("ANSWER_K"), "judge": judge.identity}
            if judge is not None and llm
            else None
        ),
    }


def _evaluate_question(
    run: EvalRun, question: EvalQuestion, chunks: Any, external_ids: dict[int, str], *, search: dict[str, Any],
    vector: list[float] | None, embedder: Any,
) -> EvalResult:
    options = {"candidates": get_setting("CANDIDATES"), **search}
    if run.mode != "keyword":
        options.update(vector=vector, embedder=embedder)
    options = {key: value for key, value in options.items() if key in _search_options(run.mode)}
    started = time.perf_counter()
    ranked = list(getattr(chunks, run.mode)(question.question, **options).values_list("document_id", flat=True)[
        : options["candidates"]
    ])
    latency = (time.perf_counter() - started) * 1000
    ranking = list(dict.fromkeys(external_ids[pk] for pk in ranked if pk in external_ids))
    result = EvalResult(
        run=run, question_id=question.id, question=question.question, reference_answer=question.reference_answer,
        relevant=question.relevant, retrieved=ranking[: run.k], latency_ms=round(latency, 3),
    )
    if question.relevant:
        result.ndcg = ndcg_at_k(ranking, question.relevant, run.k)
        result.recall = recall_at_k(ranking, question.relevant, run.k)
        result.mrr = mrr_at_k(ranking, question.relevant, run.k)
    return result


def _search_options(mode: str) -> frozenset[str]:
    """The keyword arguments ``mode``'s search method takes (one options dict serves every mode)."""
    from ..integrations.langchain import _MODE_OPTIONS

    return _MODE_OPTIONS[mode] | {"vector", "embedder"} if mode != "keyword" else _MODE_OPTIONS[mode]


def _judge_answer(
    result: EvalResult, judge: Judge, *, collection: Collection | None, llm: str, user: Any, embedder: Any,
    search: dict[str, Any],
) -> None:
    from ..generation import ask

    options = {key: value for key, value in search.items() if key in _search_options(result.run.mode)}
    try:
        answer = ask(
            # One of MODES: evaluate() checked it before the run was stored.
            result.question, collection=collection, mode=cast("Mode", result.run.mode), llm=llm, user=user,
            embedder=embedder,
            **options,
        )
    except (DjangoRAGError, ValueError) as exc:  # a provider failure, a question over MAX_QUESTION_LENGTH
        result.error = f"answer: {type(exc).__name__}: {exc}"
        return
    result.answer = answer.text
    result.contexts = [source.chunk_id for source in answer.sources]
    contexts = [source.text for source in answer.sources]
    scores = judge.score(result.question, answer.text, contexts, result.reference_answer)
    for metric in ANSWER_METRICS:
        setattr(result, metric, scores.scores.get(metric))
    result.judgments = scores.details
    result.error = "\n".join(scores.errors)


def _mean(values: Iterable[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def _finish(run: EvalRun, results: list[EvalResult], *, error: str = "") -> None:
    EvalResult.objects.bulk_create(results, batch_size=500)
    metrics: dict[str, float] = {}
    for metric in RETRIEVAL_METRICS + ANSWER_METRICS:
        value = _mean(getattr(result, metric) for result in results)
        setattr(run, metric, value)
        if value is not None:
            label = f"{metric}@{run.k}" if metric in RETRIEVAL_METRICS else metric
            metrics[label] = value
    latencies = [result.latency_ms for result in results if result.latency_ms is not None]
    if latencies:
        run.mean_latency_ms = statistics.fmean(latencies)
        metrics["p50_ms"] = statistics.median(latencies)
    metrics["questions"] = len(results)
    run.metrics = metrics
    run.status = EvalRun.Status.FAILED if error else EvalRun.Status.FINISHED
    run.error = error
    run.finished_at = timezone.now()
    run.save()
