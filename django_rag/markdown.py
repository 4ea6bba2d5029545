"""A small, safe Markdown reader for showing passages, and for quoting them as plain text.

Passages of Markdown documents are shown to people (under an answer, in search results,
in the admin) and quoted by the offline answerer. Neither needs all of CommonMark, and a
full renderer would be a new dependency whose HTML must then be sanitised anyway. This
one knows headings, paragraphs, fenced and indented code, lists, block quotes and the
inline forms (code, strong, emphasis, links, images) and escapes everything else: no
HTML from a document reaches the page, and links keep only ``http(s)`` targets.

A passage is a chunk: it can start or end inside a code block, see :func:`code_lines`.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# The extractor's CommonMark heading rule: a heading renders as it was split into sections.
from .ingestion.extractors.markdown import ATX_HEADING

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$")
BLOCKQUOTE = re.compile(r"^\s*(?:>\s?)+")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")

IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def code_lines(lines: list[str]) -> set[int]:
    """The numbers of the lines in fenced code blocks, fences included.

    A fence with a language ("```python") always opens a block; of the two readings (the
    passage starts outside or inside a block) the one that never takes such a fence for
    a closing one wins. With an odd number of bare fences the first is taken to close a
    block begun before the passage; a block still open at the end runs to the end.
    """
    fences = [(n, bool(m.group(2))) for n, m in ((n, FENCE.match(line)) for n, line in enumerate(lines)) if m]

    def reading(start_inside: bool) -> set[int] | None:
        inside, opened, code = start_inside, 0, set[int]()
        for n, has_language in fences:
            if inside and has_language:
                return None
            if inside:
                code.update(range(opened, n + 1))
            else:
                opened = n
            inside = not inside
        if inside:
            code.update(range(opened, len(lines)))
        return code

    order = [True, False] if len(fences) % 2 and not fences[0][1] else [False, True]
    for start_inside in order:
        code = reading(start_inside)
        if code is not None:
            return code
    # Both readings need a fence with a language to close a block: take every fence with
    # a language as an opening and a bare one as a closing.
    code, opened = set(), None
    for n, has_language in fences:
        if opened is None or has_language:
            opened = n if opened is None else opened
            continue
        code.update(range(opened, n + 1))
        opened = None
    if opened is not None:
        code.update(range(opened, len(lines)))
    return code


def plain_inline(line: str) -> str:
    """A line's text without Markdown and HTML markup: what a reader sees of it."""
    line = BLOCKQUOTE.sub("", line)
    line = IMAGE.sub(lambda m: m.group(1), line)
    line = LINK.sub(lambda m: m.group(1), line)
    line = INLINE_CODE.sub(lambda m: m.group(2).strip(), line)
    line = STRONG.sub(lambda m: m.group(2), line)
    line = EMPHASIS.sub(lambda m: m.group(2), line)
    return HTML_TAG.sub("", line)


def _inline_html(text: str) -> str:
    """Escaped text with the inline Markdown forms as HTML (code spans are left alone)."""
    parts = []
    last = 0
    for match in INLINE_CODE.finditer(text):
        parts.append(_inline_outside_code(text[last : match.start()]))
        parts.append(f"<code>{escape(match.group(2).strip())}</code>")
        last = match.end()
    parts.append(_inline_outside_code(text[last:]))
    return "".join(parts)


def _link(match: re.Match[str]) -> str:
    label, target = match.group(1), match.group(2)
    # Only web links: a document's "javascript:" or "data:" link must not become clickable.
    if re.match(r"https?://", target, re.IGNORECASE):
        return f'<a href="{escape(target)}" rel="nofollow noopener">{escape(label)}</a>'
    return escape(label)


def _inline_outside_code(text: str) -> str:
    text = IMAGE.sub(lambda m: m.group(1), text)
    pieces: list[str] = []
    last = 0
    for match in LINK.finditer(text):
        pieces.append(escape(text[last : match.start()]))
        pieces.append(_link(match))
        last = match.end()
    pieces.append(escape(text[last:]))
    html = "".join(pieces)
    html = STRONG.sub(lambda m: f"<strong>{m.group(2)}</strong>", html)
    return EMPHASIS.sub(lambda m: f"<em>{m.group(2)}</em>", html)


def render(text: str) -> SafeString:
    """``text`` (Markdown) as safe HTML: see the module docstring for what is understood."""
    lines = text.replace("\r\n", "\n").split("\n")
    code = code_lines(lines)
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""
    block_code: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            # Markdown's soft line break is a space: hard-wrapped text flows again.
            out.append(f"<p>{_inline_html(' '.join(paragraph))}</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if items:
            out.append(f"<{list_tag}>{''.join(f'<li>{_inline_html(item)}</li>' for item in items)}</{list_tag}>")
            items.clear()
        list_tag = ""

    def close_code() -> None:
        if block_code:
            # Indentation is the point of a code block: kept, in a <pre> the page shows in monospace.
            body = "\n".join(block_code).strip("\n")
            out.append(f'<pre class="rag-code"><code>{escape(body)}</code></pre>')
            block_code.clear()

    def close_all() -> None:
        close_paragraph()
        close_list()

    for n, line in enumerate(lines):
        if n in code:
            close_all()
            if FENCE.match(line):
                close_code()  # a fence ends the block before it (or opens the next)
            else:
                block_code.append(line)
            continue
        if line.startswith(("    ", "\t")) and not paragraph and not items:
            # An indented code block (it cannot interrupt a paragraph or continue a list).
            block_code.append(line[4:] if line.startswith("    ") else line[1:])
            continue
        close_code()
        if not line.strip():
            close_all()
            continue
        heading = ATX_HEADING.match(line)
        if heading:
            close_all()
            # A passage sits inside a page with headings of its own: a heading of the
            # document is shown as one, without joining the page's outline.
            out.append(f'<p class="rag-heading"><strong>{_inline_html(heading.group(2))}</strong></p>')
            continue
        if SETEXT_UNDERLINE.match(line) and paragraph and not items:
            title = " ".join(paragraph)
            paragraph.clear()
            out.append(f'<p class="rag-heading"><strong>{_inline_html(title)}</strong></p>')
            continue
        if TABLE_RULE.match(line):
            continue
        item = LIST_ITEM.match(line)
        if item:
            close_paragraph()
            tag = "ol" if item.group(2)[0].isdigit() else "ul"
            if list_tag and tag != list_tag:
                close_list()
            list_tag = tag
            items.append(item.group(3))
            continue
        text_line = BLOCKQUOTE.sub("", line).strip()
        if text_line.startswith("|"):  # a table row: one line of its own, cells apart
            close_all()
            out.append(f"<p>{_inline_html(' · '.join(cell.strip() for cell in text_line.strip('|').split('|')))}</p>")
            continue
        if items:
            items[-1] += " " + text_line
        else:
            paragraph.append(text_line)
    close_code()
    close_all()
    return mark_safe("".join(out))
