"""Search options as ask(), search() and top() take them: one by one or as a SearchOptions.

``ask()`` passes its options to ``QuerySet.top()`` in a :class:`SearchOptions`; an option
the mode does not take is a ``TypeError`` before any work is done (no LLM call, no log).
"""

from __future__ import annotations

import dataclasses

import pytest

import django_rag
from django_rag.models import Chunk, QueryLog
from django_rag.retrieval import SearchOptions

from .test_ask import handbook, scripted  # noqa: F401 (fixtures)

WEIGHTS = {"semantic": 0.5, "keyword": 2.0}


def ids(chunks: list[Chunk]) -> list[tuple[int, float]]:
    return [(chunk.pk, round(chunk.score, 9)) for chunk in chunks]


@pytest.mark.django_db
def test_options_given_together_or_one_by_one_search_alike(handbook):
    together = SearchOptions(candidates=5, rrf_k=10, weights=WEIGHTS, language="english")
    one_by_one = dict(candidates=5, rrf_k=10, weights=WEIGHTS, language="english")
    query = "parental leave days"
    assert ids(Chunk.objects.top(query, 3, options=together)) == ids(Chunk.objects.top(query, 3, **one_by_one))
    assert ids(django_rag.search(query, k=3, options=together)) == ids(django_rag.search(query, k=3, **one_by_one))
    # A keyword argument wins over the same option in `options`.
    keyword_only = {"semantic": 0.0, "keyword": 1.0}
    assert ids(Chunk.objects.top(query, 3, options=together, weights=keyword_only)) == ids(
        Chunk.objects.top(query, 3, **{**one_by_one, "weights": keyword_only})
    )


@pytest.mark.django_db
def test_ask_passes_its_options_to_the_search(handbook, scripted):
    scripted("Twenty days [1].")
    wide = django_rag.ask("How many days of parental leave?", mode="keyword", k=3, use_cache=False)
    narrow = django_rag.ask(
        "How many days of parental leave?", mode="keyword", k=3, use_cache=False, options=SearchOptions(min_score=1e9)
    )
    assert wide.sources and not narrow.sources and narrow.no_answer


@pytest.mark.django_db
def test_an_option_the_mode_does_not_take_is_a_type_error_before_any_work(handbook, scripted):
    llm = scripted("Twenty days [1].")
    with pytest.raises(TypeError, match="semantic search got unexpected option.*rrf_k"):
        django_rag.ask("How many days of parental leave?", mode="semantic", rrf_k=10)
    with pytest.raises(TypeError, match="keyword search got unexpected option.*vector"):
        Chunk.objects.top("leave", 3, mode="keyword", options=SearchOptions(vector=[0.0]))
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        django_rag.ask("How many days of parental leave?", colour="red")  # type: ignore[call-arg]
    assert llm.calls == [] and not QueryLog.objects.exists()


def test_search_options_are_frozen_and_say_what_was_given():
    options = SearchOptions(candidates=5, weights=WEIGHTS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.candidates = 6  # type: ignore[misc]
    assert options.given() == {"candidates": 5, "weights": WEIGHTS}
    assert options.override(candidates=None, rrf_k=3).given() == {"candidates": 5, "weights": WEIGHTS, "rrf_k": 3}
    assert options.fill(candidates=9, min_score=0.1).given() == {"candidates": 5, "weights": WEIGHTS, "min_score": 0.1}
