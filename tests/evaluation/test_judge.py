"""Answer metrics (RAGAS definitions) scored by the scripted test LLM, checked by hand."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from django_rag.embedders import get_embedder
from django_rag.evaluation.judge import Judge, JudgeError, RagasJudge, average_precision, parse_json
from django_rag.llms import BaseLLM, Completion

QUESTION = "How many days of parental leave do employees get?"
ANSWER = "Employees get twenty days of parental leave [1]. The leave is unpaid [2]."
CONTEXTS = [
    "Sick leave needs a doctor's note.",
    "Employees receive twenty days of paid parental leave.",
    "Parents who adopt get the same parental leave.",
]
REFERENCE = "Twenty days. The leave is paid. Adoptive parents get it too."


def numpy_cosine(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def judge(scripted_llms, testing_embedder):
    def make(*responses):
        llm = scripted_llms(judge=responses)["judge"]
        return Judge(llm, testing_embedder()), llm

    return make


SCRIPT = [
    json.dumps({"statements": ["Employees get twenty days of parental leave.", "The leave is unpaid."]}),
    # Judges wrap JSON in prose and fences; verdicts come as numbers, booleans or words.
    'Here you are:\n```json\n{"verdicts": [{"statement": 1, "verdict": 1}, {"statement": 2, "verdict": "no"}]}\n```',
    json.dumps({"questions": [QUESTION, "Is parental leave paid?"], "noncommittal": 0}),
    json.dumps({"reason": "about sick leave", "verdict": 0}),
    json.dumps({"reason": "says twenty days", "verdict": 1}),
    json.dumps({"reason": "adoption", "verdict": True}),
    json.dumps({"sentences": [{"sentence": "Twenty days.", "attributed": 1},
                              {"sentence": "The leave is paid.", "attributed": 1},
                              {"sentence": "Adoptive parents get it too.", "attributed": 0}]}),
]


@pytest.mark.django_db
def test_every_metric_by_hand(judge):
    scorer, llm = judge(*SCRIPT)
    result = scorer.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert result.errors == []
    # Faithfulness: 1 of 2 statements supported.
    assert result.scores["faithfulness"] == 0.5
    # Answer relevancy: mean cosine of the generated questions with the question.
    embedder = get_embedder()
    q = embedder.embed_query(QUESTION)
    expected = (numpy_cosine(q, q) + numpy_cosine(q, embedder.embed_query("Is parental leave paid?"))) / 2
    assert result.scores["answer_relevancy"] == pytest.approx(expected)
    assert 0 < expected < 1
    # Context precision: verdicts 0, 1, 1 -> (precision@2 + precision@3) / 2 = (1/2 + 2/3) / 2.
    assert result.scores["context_precision"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    # Context recall: 2 of 3 reference sentences attributed.
    assert result.scores["context_recall"] == pytest.approx(2 / 3)
    assert result.details["statements"] == ["Employees get twenty days of parental leave.", "The leave is unpaid."]
    assert result.details["verdicts"] == [1, 0]
    assert result.details["context_verdicts"] == [0, 1, 1]
    # One call per prompt, one per context for precision, each rendered from the templates.
    assert len(llm.calls) == 7
    assert "Break the answer below into short standalone statements" in llm.calls[0][0]["content"]
    assert "1. Employees get twenty days of parental leave." in llm.calls[1][0]["content"]
    assert CONTEXTS[0] in llm.calls[3][0]["content"] and REFERENCE in llm.calls[3][0]["content"]
    assert all(options["temperature"] == 0.0 for options in llm.call_options)


@pytest.mark.django_db
def test_judge_calls_are_cached(judge, rag_settings):
    scorer, llm = judge(*SCRIPT)
    first = scorer.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert (len(llm.calls), scorer.calls) == (7, 7)
    again = scorer.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert again.scores == first.scores
    assert (len(llm.calls), scorer.calls) == (7, 7)  # every verdict from the cache
    # Another answer is another prompt: a new call.
    scorer.score(QUESTION, "Twenty days [1].", CONTEXTS[:1], REFERENCE)
    assert len(llm.calls) > 7
    rag_settings(CACHE=None)
    uncached, llm = judge(*SCRIPT)
    uncached.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    uncached.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert len(llm.calls) == 14


@pytest.mark.django_db
def test_noncommittal_answer_and_no_reference(judge):
    scorer, llm = judge(
        json.dumps({"statements": []}),  # nothing claimed: faithfulness not measurable
        json.dumps({"questions": ["What do the documents say?"], "noncommittal": 1}),
        json.dumps({"verdict": 0}),
    )
    result = scorer.score(QUESTION, "I don't know.", CONTEXTS[:1])
    assert result.scores == {
        "faithfulness": None, "answer_relevancy": 0.0, "context_precision": 0.0, "context_recall": None,
    }
    # Without a reference answer, context precision judges against the generated answer.
    assert "Reference answer: I don't know." in llm.calls[2][0]["content"]
    assert len(llm.calls) == 3  # no context recall call without a reference


@pytest.mark.django_db
def test_malformed_replies_and_failures_are_recorded_not_raised(judge, scripted_llms, testing_embedder):
    scorer, _ = judge("I'd rather not say.")
    result = scorer.score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert set(result.scores.values()) == {None}
    assert len(result.errors) == 4
    assert all("did not answer with a JSON object" in error for error in result.errors)

    scorer, _ = judge(json.dumps({"statements": ["a", "b"]}), json.dumps({"verdicts": [1]}))
    with pytest.raises(JudgeError, match="expected 2 verdicts"):
        scorer.faithfulness(QUESTION, ANSWER, CONTEXTS)

    failing = scripted_llms(judge=["{}"])["judge"]
    failing.fail_with = "timeout"
    result = Judge(failing, testing_embedder()).score(QUESTION, "Another answer.", CONTEXTS, REFERENCE)
    assert set(result.scores.values()) == {None}
    assert all("LLMTimeout" in error for error in result.errors)


@pytest.mark.django_db
def test_prompts_are_overridable_templates(judge, settings, tmp_path):
    override = tmp_path / "templates" / "django_rag" / "prompts" / "judge"
    override.mkdir(parents=True)
    (override / "statements.txt").write_text("Our own wording. Answer: {{ answer }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path / "templates")]}]
    scorer, llm = judge(json.dumps({"statements": []}))
    scorer.faithfulness(QUESTION, ANSWER, CONTEXTS)
    assert llm.calls[0][0]["content"] == f"Our own wording. Answer: {ANSWER}"


def test_average_precision_and_parsing():
    assert average_precision([1, 1, 1]) == 1.0
    assert average_precision([0, 0, 1]) == pytest.approx(1 / 3)
    assert average_precision([1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 0]) == 0.0
    assert parse_json('prose {"a": [1, {"b": 2}]} more prose') == {"a": [1, {"b": 2}]}
    with pytest.raises(JudgeError, match="malformed"):
        parse_json('{"a": 1,}')


class RuleJudge(BaseLLM):
    """A judge that reads the prompt and applies fixed rules, whichever wording asks.

    It answers our templates and ragas's prompts alike, so both implementations can be
    given the same verdicts: a statement or reference sentence is supported when it
    mentions "twenty" or "days"; a context is useful when it mentions "parental".
    """

    provider, model_name = "rules", "judge"
    STATEMENTS = ["Employees get twenty days of parental leave.", "The leave is unpaid."]
    GENERATED = "Is parental leave paid?"

    @staticmethod
    def supported(text: str) -> int:
        return int("twenty" in text.lower() or "days" in text.lower())

    def _generate(self, messages, *, max_tokens, temperature):
        prompt = messages[-1]["content"]
        if "Output: " in prompt and "input: " in prompt:  # ragas: the input is the last JSON block
            data = json.loads(prompt[prompt.rindex("input: ") + 7 : prompt.rindex("Output: ")])
        else:
            data = {}
        if "StatementGeneratorOutput" in prompt or "short standalone statements" in prompt:
            reply = {"statements": self.STATEMENTS}
        elif "NLIStatementOutput" in prompt:
            reply = {"statements": [{"statement": st, "reason": "", "verdict": self.supported(st)}
                                    for st in data["statements"]]}
        elif "numbered statement" in prompt:
            statements = re.findall(r"^\d+\. (.*)$", prompt, re.M)
            reply = {"verdicts": [{"verdict": self.supported(st)} for st in statements]}
        elif "ResponseRelevanceOutput" in prompt or "questions that the answer below answers" in prompt:
            reply = {"question": self.GENERATED, "questions": [self.GENERATED], "noncommittal": 0}
        elif "ContextRecallClassifications" in prompt or "Split the reference answer" in prompt:
            reference = data.get("answer") or re.search(r"^Reference answer: (.*)$", prompt, re.M).group(1)
            sentences = [part.strip() for part in reference.split(". ") if part.strip()]
            reply = {"classifications": [{"statement": x, "reason": "", "attributed": self.supported(x)}
                                         for x in sentences]}
            reply["sentences"] = reply["classifications"]
        else:  # context precision, one context at a time
            context = data.get("context") or re.search(r"^Passage: (.*)$", prompt, re.M).group(1)
            reply = {"reason": "", "verdict": int("parental" in context.lower())}
        return Completion(text=json.dumps(reply))


@pytest.mark.django_db
def test_ragas_and_our_implementation_agree(testing_embedder):
    """Runs only where the ragas package is installed (it is not a dependency of django-rag)."""
    pytest.importorskip("ragas")
    embedder = testing_embedder()
    ours = Judge(RuleJudge(alias="rules"), embedder).score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    judge = RuleJudge(alias="rules")
    theirs = RagasJudge(judge, embedder, use_cache=False).score(QUESTION, ANSWER, CONTEXTS, REFERENCE)
    assert theirs.errors == [] and ours.errors == []
    # Statements 1 of 2 supported; contexts useful 0, 1, 1; reference sentences 1 of 3.
    q = embedder.embed_query(QUESTION)
    expected = {
        "faithfulness": 0.5,
        "answer_relevancy": numpy_cosine(q, embedder.embed_query(RuleJudge.GENERATED)),
        "context_precision": (1 / 2 + 2 / 3) / 2,
        "context_recall": 1 / 3,
    }
    for name, value in expected.items():
        assert ours.scores[name] == pytest.approx(value), name
        assert theirs.scores[name] == pytest.approx(value), name


@pytest.mark.parametrize(
    ("judge_alias", "message"),
    [("missing", "which is not in DJANGO_RAG"), ("default", "cannot write text")],
)
def test_judge_setting_is_checked(rag_settings, judge_alias, message):
    from django.core.checks import run_checks

    rag_settings(EVAL_JUDGE_LLM=judge_alias)  # "default" is the extractive LLM in the test settings
    errors = [m for m in run_checks() if m.id == "django_rag.E016"]
    assert len(errors) == 1 and message in errors[0].msg


def test_a_generative_judge_passes_the_check(scripted_llms, rag_settings):
    scripted_llms(default=["x"], judge=["{}"])
    rag_settings(EVAL_JUDGE_LLM="judge")
    from django.core.checks import run_checks

    assert [m for m in run_checks() if m.id == "django_rag.E016"] == []
