"""How answers, sources and passages look (issue 18, item 4): the template tags' HTML."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.test import RequestFactory

import django_rag
from django_rag.generation.answers import Source
from django_rag.rendering import citation_numbers, link_citations, relevance

pytestmark = pytest.mark.django_db

MARKDOWN = (
    "# Setup\n\nInstall the package, then call it:\n\n```python\ndef ask():\n    return rag.ask('leave')\n```\n\n"
    "## Parental leave\nParental leave is **twenty days** for every employee."
)


def render(source: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load django_rag %}" + source).render(Context({"request": request, **context}))


def source(number: int, title: str) -> Source:
    return Source(number=number, chunk_id=number, document_id=number, title=title, url="", page=None,
                  score=1.0 / (60 + number), snippet="", text="")


def test_citations_are_shown_numbered_in_reading_order():
    third, first = source(3, "Third"), source(1, "First")
    shown = citation_numbers([third, first])  # the answer cites [3] first, then [1]
    assert shown == {3: 1, 1: 2}
    html = link_citations("Twenty days [3]. Split in two [1].", [first, third], shown=shown)
    assert re.findall(r'title="(\w+)">(\d)</a>', html) == [("Third", "1"), ("First", "2")]
    # The links still point at the source each mark cites.
    assert 'href="#rag-source-3" title="Third">1<' in html


def test_rag_answer_lists_sources_in_citation_order(handbook_documents, admin_user, rag_settings):
    rag_settings(LLMS={"default": {"BACKEND": "django_rag.llms.testing.LLM",
                                   "OPTIONS": {"responses": ["Bands are confidential [2]. Leave is twenty days [1]."]}}})
    html = render("{% rag_answer 'parental leave salary band' %}", admin_user)
    values = re.findall(r'<li value="(\d+)" id="rag-source-(\d+)"', html)
    assert values == [("1", "2"), ("2", "1")]  # shown 1, 2; the prompt's 2, 1
    assert re.findall(r'class="rag-citation"[^>]*>(\d+)</a>', html) == ["1", "2"]


def test_markdown_passages_are_rendered_and_code_keeps_its_indentation(make_document, admin_user):
    document = make_document(MARKDOWN, name="setup.md", title="Setup guide")
    django_rag.ingest(document)
    page = render(
        "{% rag_search 'ask leave function' k=5 as results %}{% for c in results %}{{ c|rag_passage }}{% endfor %}",
        admin_user,
    )
    assert '<pre class="rag-code"><code>def ask():\n    return rag.ask(&#x27;leave&#x27;)</code></pre>' in page
    assert "<strong>twenty days</strong>" in page
    assert "```" not in page and "## " not in page and "**" not in page


def test_a_text_file_passage_is_not_read_as_markdown(make_document, admin_user):
    django_rag.ingest(make_document("Use *args and **kwargs # not a heading", name="notes.txt"))
    page = render("{% rag_search 'args kwargs' as results %}{% for c in results %}{{ c|rag_passage }}{% endfor %}",
                  admin_user)
    assert "<p>Use *args and **kwargs # not a heading</p>" in page


def test_relevance_is_a_rank_the_legs_and_a_bar_with_the_score_in_a_tooltip():
    best = SimpleNamespace(score=0.0328, keyword_rank=1, semantic_rank=1)
    other = SimpleNamespace(score=0.0164, keyword_rank=None, semantic_rank=2)
    info = relevance(other, [best, other])
    assert (info["rank"], info["legs"], info["percent"]) == (2, [("meaning", 2)], 50)
    assert info["tooltip"] == "score 0.0164; meaning rank 2"
    html = Template("{% load django_rag %}{% rag_relevance item results %}").render(
        Context({"item": best, "results": [best, other]})
    )
    assert 'title="score 0.0328; words rank 1; meaning rank 1"' in html
    assert ">#1<" in html and "width:100%" in html and "matched: words #1, meaning #1" in html
    assert "0.0328" not in html.split('title="', 1)[1].split('"', 1)[1]  # the number only in the tooltip


def test_admin_chunk_search_lists_only_chunks_with_the_words_ranked(admin_client, make_document):
    from django.urls import reverse

    texts = ["Laptops lock after five minutes.", "The coolant is replaced every 47 days.",
             "Dana replaces the coolant of the chiller.", *(f"Unrelated rule {n} about desks." for n in range(8))]
    for text in texts:
        django_rag.ingest(make_document(text))
    response = admin_client.get(reverse("admin:django_rag_chunk_changelist"), {"q": "coolant"})
    results = list(response.context["cl"].result_list)
    assert sorted(c.content for c in results) == sorted(t for t in texts if "coolant" in t)
    assert [c.score for c in results] == sorted((c.score for c in results), reverse=True)
    page = response.content.decode()
    assert "2 results" in page and "11 total" in page
    assert re.search(r'<span title="score 0\.\d{4}">words #1', page)
