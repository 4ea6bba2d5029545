"""Answer metrics in the RAGAS sense, scored by an LLM judge.

- **faithfulness**: the answer is split into statements; the share the retrieved
  contexts support.
- **answer relevancy**: the judge writes questions the answer would answer; the mean
  cosine similarity of their embeddings with the question's (our embedders), 0 when
  the answer is noncommittal.
- **context precision**: each retrieved context (in rank order) is judged useful or not
  for reaching the reference answer; the mean of precision@i over the useful ones
  (average precision). Without a reference answer the generated answer stands in, as
  RAGAS's ``LLMContextPrecisionWithoutReference`` does.
- **context recall**: the reference answer's sentences that the contexts support.

The prompts are Django templates under ``django_rag/prompts/judge/`` (override them in
your own templates directory); each asks for JSON. Judge calls go through our LLM
backends at temperature 0 and are cached in ``DJANGO_RAG["CACHE"]`` for
``EVAL_JUDGE_CACHE_TIMEOUT`` seconds, keyed by the judge's identity and the messages, so
a rerun over unchanged answers makes no call. When the ``ragas`` package is importable,
:class:`RagasJudge` scores with its metrics instead, through the same cached judge.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from ..conf import get_setting
from ..exceptions import DjangoRAGError
from ..generation import cache as rag_cache
from ..generation.prompts import neutral_line, quote_source_text

ANSWER_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
PROMPTS = "django_rag/prompts/judge/"
#: Questions generated per answer for answer relevancy (RAGAS's ``strictness``).
GENERATED_QUESTIONS = 3


class JudgeError(DjangoRAGError):
    """The judge answered something that is not the JSON its prompt asks for."""


@dataclass
class JudgeScores:
    """The scores of one answer: a metric is None when it could not be measured."""

    scores: dict[str, float | None] = field(default_factory=dict)
    #: What the judge said (statements, verdicts, generated questions), for the admin.
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_json(text: str) -> Any:
    """The JSON object in a judge's reply (models like to wrap it in prose or fences)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise JudgeError(f"the judge did not answer with a JSON object: {text[:200]!r}")
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise JudgeError(f"the judge's JSON is malformed ({exc.msg}): {text[:200]!r}") from None


def parse_json_object(text: str) -> dict[str, Any]:
    data = parse_json(text)
    if not isinstance(data, dict):
        raise JudgeError(f"the judge's JSON is not an object: {text[:200]!r}")
    return data


def _flag(value: Any, what: str) -> int:
    """A 0/1 verdict; judges also write true/false, "yes"/"no" or "1"."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in {"0", "1", "yes", "no", "true", "false"}:
        return int(value.strip().lower() in {"1", "yes", "true"})
    raise JudgeError(f"{what} must be 0 or 1, not {value!r}")


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise JudgeError(f"{what} must be a list of strings")
    return [item.strip() for item in value if item.strip()]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b)) / norm if norm else 0.0


def average_precision(verdicts: Sequence[int]) -> float:
    """RAGAS context precision: mean of precision@i at each useful context i; 0 when none is."""
    useful, total = 0, 0.0
    for rank, verdict in enumerate(verdicts, start=1):
        if verdict:
            useful += 1
            total += useful / rank  # precision at this rank
    return total / useful if useful else 0.0


class Judge:
    """Scores answers with ``llm`` (a generative :class:`~django_rag.llms.BaseLLM`) and ``embedder``."""

    def __init__(self, llm: Any, embedder: Any, *, use_cache: bool = True) -> None:
        self.llm, self.embedder = llm, embedder
        self.use_cache = use_cache
        self.calls = 0  # judge calls that reached the LLM (cache misses)

    @property
    def identity(self) -> str:
        return f"django_rag:{self.llm.identity}"

    def complete(self, messages: list[dict[str, str]], parse: Callable[[str], Any] = str) -> Any:
        """``parse`` of the judge's reply to ``messages``, from the cache when it was asked before.

        Only replies that ``parse`` accepts are cached: a malformed one is asked again next time.
        """
        cache = rag_cache.get_cache() if self.use_cache else None
        key = f"{rag_cache.PREFIX}:judge:{rag_cache.digest(self.llm.identity, messages)}"
        if cache is not None and (text := cache.get(key)) is not None:
            return parse(text)
        self.calls += 1
        text = self.llm.generate(messages, temperature=0.0).text
        parsed = parse(text)
        if cache is not None:
            cache.set(key, text, get_setting("EVAL_JUDGE_CACHE_TIMEOUT"))
        return parsed

    def ask_json(self, template: str, **context: Any) -> dict[str, Any]:
        # Retrieved text and the statements drawn from an answer are untrusted: quoted and
        # kept to their lines, as in the answer prompt (generation/prompts.py).
        if "contexts" in context:
            context["contexts"] = [quote_source_text(text) for text in context["contexts"]]
        if "context" in context:
            context["context"] = quote_source_text(context["context"])
        if "statements" in context:
            context["statements"] = [neutral_line(statement) for statement in context["statements"]]
        prompt = render_to_string(PROMPTS + template, context).strip()
        verdict: dict[str, Any] = self.complete([{"role": "user", "content": prompt}], parse=parse_json_object)
        return verdict

    # -- the metrics ------------------------------------------------------------------

    def faithfulness(self, question: str, answer: str, contexts: Sequence[str]) -> tuple[float | None, dict[str, Any]]:
        statements = _strings(
            self.ask_json("statements.txt", question=question, answer=answer).get("statements"), "statements"
        )
        if not statements:
            return None, {"statements": []}  # nothing was claimed: RAGAS scores NaN
        reply = self.ask_json("faithfulness.txt", contexts=contexts, statements=statements)
        verdicts = reply.get("verdicts")
        if not isinstance(verdicts, list) or len(verdicts) != len(statements):
            raise JudgeError(f"faithfulness: expected {len(statements)} verdicts, got {verdicts!r:.200}")
        flags = [_flag(v.get("verdict") if isinstance(v, dict) else v, "a faithfulness verdict") for v in verdicts]
        return sum(flags) / len(flags), {"statements": statements, "verdicts": flags}

    def answer_relevancy(self, question: str, answer: str) -> tuple[float | None, dict[str, Any]]:
        reply = self.ask_json("answer_relevancy.txt", answer=answer, count=GENERATED_QUESTIONS)
        generated = _strings(reply.get("questions"), "questions")
        noncommittal = _flag(reply.get("noncommittal", 0), "noncommittal")
        if not generated:
            raise JudgeError("answer relevancy: the judge wrote no question")
        question_vector = rag_cache.cached_query_vector(self.embedder, question)
        similarities = [cosine(question_vector, rag_cache.cached_query_vector(self.embedder, q)) for q in generated]
        score = 0.0 if noncommittal else sum(similarities) / len(similarities)
        return score, {"generated_questions": generated, "noncommittal": noncommittal}

    def context_precision(self, question: str, contexts: Sequence[str], reference: str) -> tuple[float | None, dict[str, Any]]:
        if not contexts:
            return None, {}
        verdicts = [
            _flag(
                self.ask_json("context_precision.txt", question=question, reference=reference, context=context).get(
                    "verdict"
                ),
                "a context precision verdict",
            )
            for context in contexts
        ]
        return average_precision(verdicts), {"context_verdicts": verdicts}

    def context_recall(self, question: str, contexts: Sequence[str], reference: str) -> tuple[float | None, dict[str, Any]]:
        reply = self.ask_json("context_recall.txt", question=question, contexts=contexts, reference=reference)
        sentences = reply.get("sentences")
        if not isinstance(sentences, list):
            raise JudgeError("context recall: the judge's JSON has no list of sentences")
        flags = [_flag(s.get("attributed") if isinstance(s, dict) else s, "attributed") for s in sentences]
        return (sum(flags) / len(flags) if flags else None), {"reference_attributed": flags}

    def score(self, question: str, answer: str, contexts: Sequence[str], reference: str = "") -> JudgeScores:
        """Every answer metric for one question; a metric the judge fails on is None, with the error kept."""
        result = JudgeScores()
        jobs = {
            "faithfulness": lambda: self.faithfulness(question, answer, contexts),
            "answer_relevancy": lambda: self.answer_relevancy(question, answer),
            "context_precision": lambda: self.context_precision(question, contexts, reference or answer),
            "context_recall": (lambda: self.context_recall(question, contexts, reference)) if reference else None,
        }
        for name, job in jobs.items():
            if job is None:
                result.scores[name] = None  # needs a reference answer
                continue
            try:
                result.scores[name], details = job()
                result.details.update(details)
            except DjangoRAGError as exc:  # JudgeError and the LLM's own errors
                result.scores[name] = None
                result.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return result


def ragas_available() -> bool:
    try:
        import ragas  # noqa: F401
    except ImportError:
        return False
    return True


class RagasJudge(Judge):
    """The same metrics computed by the ``ragas`` package (used when it is installed).

    Not a dependency, and not installed by ``make test``: this path runs only where a
    site has ragas. Its LLM calls still go through :meth:`Judge.complete` (our backend,
    our cache) via a LangChain chat model, and its embeddings through our embedder.
    """

    @property
    def identity(self) -> str:
        import ragas

        return f"ragas {getattr(ragas, '__version__', '?')}:{self.llm.identity}"

    def score(self, question: str, answer: str, contexts: Sequence[str], reference: str = "") -> JudgeScores:
        import warnings

        with warnings.catch_warnings():
            # ragas 0.4 deprecates these import paths and its LangChain wrappers in favour
            # of its own provider clients; the wrappers are the only way to hand it our
            # backends, and the metrics behind them are the ones these paths name.
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._score(question, answer, contexts, reference)

    def _score(self, question: str, answer: str, contexts: Sequence[str], reference: str) -> JudgeScores:
        from ragas.dataset_schema import SingleTurnSample
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import (
            Faithfulness,
            LLMContextPrecisionWithoutReference,
            LLMContextPrecisionWithReference,
            LLMContextRecall,
            ResponseRelevancy,
        )

        from ..integrations.langchain import DjangoRAGEmbeddings

        llm = LangchainLLMWrapper(judge_chat_model(self))
        embeddings = LangchainEmbeddingsWrapper(DjangoRAGEmbeddings(self.embedder))
        sample = SingleTurnSample(
            user_input=question, response=answer, retrieved_contexts=list(contexts), reference=reference or None
        )
        metrics = {
            "faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": ResponseRelevancy(llm=llm, embeddings=embeddings),
            "context_precision": (
                LLMContextPrecisionWithReference(llm=llm) if reference else LLMContextPrecisionWithoutReference(llm=llm)
            ),
            "context_recall": LLMContextRecall(llm=llm) if reference else None,
        }
        result = JudgeScores(details={"engine": self.identity})
        for name, metric in metrics.items():
            if metric is None:
                result.scores[name] = None
                continue
            try:
                value = float(metric.single_turn_score(sample))
                result.scores[name] = None if math.isnan(value) else value
            except Exception as exc:  # ragas raises its own and its parsers' exceptions
                result.scores[name] = None
                result.errors.append(f"{name} (ragas): {type(exc).__name__}: {exc}")
        return result


def _judge_chat_model_class() -> type[Any]:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    roles = {"human": "user", "system": "system", "ai": "assistant"}

    class JudgeChatModel(BaseChatModel):
        """A :class:`Judge`'s cached LLM calls as a LangChain chat model (for ragas)."""

        judge: Any

        @property
        def _llm_type(self) -> str:
            return "django-rag-judge"

        def _generate(
            self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
            **kwargs: Any,
        ) -> ChatResult:
            converted = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
            text = self.judge.complete(converted)
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    return JudgeChatModel



def judge_chat_model(judge: Judge) -> Any:
    return _judge_chat_model_class()(judge=judge)
