"""django_rag.markdown: passages of Markdown documents shown as what they are, and safely."""

from __future__ import annotations

from django_rag.markdown import code_lines, plain_inline, render


def test_headings_paragraphs_lists_and_inline_forms():
    html = render("## Install\nRun **this** with `pip`\nand *then* migrate.\n\n- one\n- two\n\n1. first")
    assert html == (
        '<p class="rag-heading"><strong>Install</strong></p>'
        "<p>Run <strong>this</strong> with <code>pip</code> and <em>then</em> migrate.</p>"
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>"
    )


def test_code_blocks_keep_their_indentation_and_are_escaped():
    html = render("```python\ndef f():\n    return '<b>'\n```")
    assert html == '<pre class="rag-code"><code>def f():\n    return &#x27;&lt;b&gt;&#x27;</code></pre>'
    assert render("Text:\n\n    indented = True\n        deeper") == (
        '<p>Text:</p><pre class="rag-code"><code>indented = True\n    deeper</code></pre>'
    )


def test_a_passage_cut_inside_code_blocks():
    # Starts inside a block (its bare closing fence first), ends inside another (with a language).
    html = render("    x = 1\n```\n\nText after.\n\n```sh\npip install")
    assert html == (
        '<pre class="rag-code"><code>    x = 1</code></pre><p>Text after.</p>'
        '<pre class="rag-code"><code>pip install</code></pre>'
    )
    assert code_lines(["```", "code", "```"]) == {0, 1, 2}


def test_nothing_from_the_document_becomes_markup_or_a_dangerous_link():
    html = render('<script>alert(1)</script> [a](javascript:alert(1)) [b](https://example.org/?a=1&b="2") <img src=x onerror=y>')
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert '<a href="https://example.org/?a=1&amp;b=&quot;2&quot;" rel="nofollow noopener">b</a>' in html
    assert render("# <i>x</i>") == '<p class="rag-heading"><strong>&lt;i&gt;x&lt;/i&gt;</strong></p>'


def test_plain_inline_keeps_only_the_text():
    assert plain_inline("> **Install** `pkg` from [PyPI](https://pypi.org) ![logo](x.png) <b>now</b>") == (
        "Install pkg from PyPI logo now"
    )
