from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory

from django_rag.generation.answers import Source
from django_rag.rendering import link_citations

pytestmark = pytest.mark.django_db
TESTING_LLM = "django_rag.llms.testing.LLM"


def render(source: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load django_rag %}" + source).render(Context({"request": request, **context}))


@pytest.fixture
def scripted_llm(rag_settings):
    def make(response: str, **options):
        rag_settings(LLMS={"default": {"BACKEND": TESTING_LLM, "OPTIONS": {"responses": [response], **options}}})

    return make


def test_link_citations_escapes_the_answer_and_links_each_number():
    source = Source(number=1, chunk_id=1, document_id=1, title="Leave", url="/media/leave.pdf#page=2", page=2,
                    score=1.0, snippet="", text="")
    html = link_citations("Twenty days [1] <script>x</script> [1, 7].", [source])
    assert '<a class="rag-citation" href="/media/leave.pdf#page=2" title="Leave">1</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("rag-citation") == 2 and ", 7]" in html  # [7] has no source: left as text


def test_rag_answer_links_citations_to_the_source_url(handbook_documents, admin_user, scripted_llm):
    scripted_llm("Twenty days of parental leave [1].")
    html = render("{% rag_answer question %}", admin_user, question="How long is parental leave?")
    assert 'class="rag-citation" href="https://intranet.example/leave"' in html
    assert '<ol class="rag-sources">' in html and "Leave policy" in html


def test_rag_answer_links_a_pdf_citation_to_its_page(make_document, admin_user, scripted_llm):
    import django_rag
    from tests.ingestion.pdfs import make_pdf

    document = make_document(
        make_pdf(["Cover page of the handbook.", "Parental leave is twenty days for every employee."]),
        name="handbook.pdf", title="Handbook",
    )
    django_rag.ingest(document)
    scripted_llm("Twenty days [1].")
    html = render("{% rag_answer 'parental leave days' %}", admin_user)
    assert f'href="{document.file.url}#page=2"' in html


def test_rag_answer_shows_only_what_the_user_may_see(handbook_documents, admin_user, scripted_llm):
    scripted_llm("See the sources [1] [2].")
    question = "parental leave salary band"
    staff_html = render("{% rag_answer question %}", admin_user, question=question)
    visitor_html = render("{% rag_answer question %}", AnonymousUser(), question=question)
    assert "Salary bands" in staff_html and "Leave policy" in staff_html
    assert "Salary bands" not in visitor_html and "Leave policy" in visitor_html
    assert "ninety percent" not in visitor_html


def test_rag_search_returns_only_visible_chunks(handbook_documents, admin_user):
    source = "{% rag_search q k=5 as results %}{% for c in results %}[{{ c.document.title }}]{% endfor %}"
    assert "[Salary bands]" in render(source, admin_user, q="parental leave salary")
    visitor = render(source, AnonymousUser(), q="parental leave salary")
    assert "[Leave policy]" in visitor and "Salary bands" not in visitor
    assert render(source, admin_user, q="   ") == ""


def test_rag_answer_without_a_question_or_with_a_failing_llm(handbook_documents, admin_user, scripted_llm):
    assert render("{% rag_answer '' %}", admin_user).strip() == ""
    scripted_llm("unused", fail_with="unavailable")
    html = render("{% rag_answer 'parental leave' %}", admin_user)
    # The words the REST API answers with (django_rag.exceptions.QUERY_FAILURES).
    assert "The language model is unavailable right now. Try again later." in html
    html = render("{% rag_answer question %}", admin_user, question="x" * 5000)
    assert 'class="rag-error"' in html


def test_the_answer_partial_can_be_overridden(handbook_documents, admin_user, settings, tmp_path, scripted_llm):
    (tmp_path / "django_rag").mkdir()
    (tmp_path / "django_rag" / "answer.html").write_text(
        "<div class='mine'>{{ answer.text }}|{% for s in answer.citations %}{{ s.title }}{% endfor %}</div>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    scripted_llm("Twenty days [1].")
    html = render("{% rag_answer 'parental leave' %}", admin_user)
    assert html.strip() == "<div class='mine'>Twenty days [1].|Leave policy</div>"
