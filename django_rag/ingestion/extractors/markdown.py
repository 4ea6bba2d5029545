"""Markdown: a section per heading, with the heading path; front matter as metadata."""

from __future__ import annotations

import datetime
import importlib.util
import logging
import re
from typing import Any

from ...exceptions import CorruptFile
from .base import Extracted, Extractor, Limits, Section, clip_title, decode_text, heading_metadata

logger = logging.getLogger("django_rag.ingestion")

# CommonMark: up to three spaces of indent; a closing run of #s only counts after a
# space, so "# Learning C#" keeps its "#".
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_ATX_HEADING = ATX_HEADING  # the name django_rag.markdown imported before the registry
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")

# Front matter: a YAML block between "---" lines (Jekyll, Hugo, MkDocs, Obsidian), or a
# TOML block between "+++" lines (Hugo), at the very top of the file.
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?(---|\+\+\+)[ \t]*\n(.*?\n)?\1[ \t]*(?:\n|\Z)", re.DOTALL)


class MarkdownExtractor(Extractor):
    format = "markdown"
    label = "Markdown"
    extensions = (".md", ".markdown")
    content_types = ("text/markdown", "text/x-markdown")
    # 2: front matter became metadata instead of text. 3: ``heading`` (the innermost heading).
    version = "3"
    reads_text = True

    def signature(self) -> str:
        # Without PyYAML, YAML front matter stays text: another outcome, another signature.
        yaml = importlib.util.find_spec("yaml") is not None
        return super().signature() + ("" if yaml else "-noyaml")

    def extract(self, data: bytes, limits: Limits) -> Extracted:
        text, encoding = decode_text(data)
        front, body = split_front_matter(text)
        sections = extract_markdown(body)
        metadata: dict[str, Any] = {"encoding": encoding}
        title = clip_title(front.get("title")) if isinstance(front.get("title"), str) else ""
        title = title or markdown_title(body)
        if title:
            metadata["title"] = title
        if front:
            metadata["front_matter"] = front
            for section in sections:
                # The section's own keys (section, heading) win over a front-matter key of
                # the same name; the pipeline adds the document-wide ones afterwards.
                section.metadata = {**front, **section.metadata}
        return Extracted(self.format, sections, metadata)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """``(front matter, the rest)``; ``({}, text)`` when the file has none.

    Invalid front matter is a :class:`CorruptFile` naming the line, rather than silently
    indexed as text: the author meant it as metadata. YAML needs PyYAML (the
    ``frontmatter`` extra); without it the block stays in the text, as it did before.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fence, block = match.group(1), match.group(2) or ""
    if fence == "+++":
        import tomllib

        try:
            data: Any = tomllib.loads(block)
        except tomllib.TOMLDecodeError as exc:
            raise CorruptFile(f"The TOML front matter (between the +++ lines at the top) is not valid: {exc}.") from exc
    else:
        try:
            import yaml
        except ImportError:
            logger.warning(
                "A Markdown file has YAML front matter, which is indexed as text: reading it as "
                "metadata needs PyYAML (pip install 'django-rag[frontmatter]')."
            )
            return {}, text
        try:
            data = yaml.safe_load(block) if block.strip() else {}
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 2}" if where is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise CorruptFile(
                f"The YAML front matter (between the --- lines at the top) is not valid{line}: {problem}."
            ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CorruptFile(
            f"The front matter at the top must be a mapping of names to values, not a {type(data).__name__}."
        )
    return _json_safe(data), text[match.end():]


def _json_safe(value: Any) -> Any:
    # Chunk metadata is jsonb: YAML dates and times become ISO strings, keys strings.
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def extract_markdown(text: str) -> list[Section]:
    """One section per heading, with the heading path ("Install > Requirements") as ``section``
    and the innermost heading as ``heading``.

    A heading directly followed by another heading has no text of its own; it stays in
    the text of the next section instead of becoming a chunk that holds only a title.
    """
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    has_body = False
    fence: str | None = None  # the opening fence ("```", "~~~~") while inside a code block

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(body, heading_metadata([title for _, title in path])))
        lines.clear()

    for line in text.splitlines():
        fence_match = _FENCE.match(line)
        if fence is None and fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
            fence = fence_match.group(1)
        elif (
            fence is not None
            and fence_match
            and fence_match.group(1)[0] == fence[0]
            and len(fence_match.group(1)) >= len(fence)
            and not fence_match.group(2).strip()
        ):
            # A closing fence uses the opening's character, at least as many times, and
            # nothing else: "```" inside a "````" block is code, not the end of it.
            fence = None
        else:
            match = None if fence is not None else ATX_HEADING.match(line)
            if match:
                if has_body:
                    flush()
                    has_body = False
                level = len(match.group(1))
                path[:] = [(lvl, title) for lvl, title in path if lvl < level]
                path.append((level, match.group(2).strip()))
                lines.append(line)  # keep the heading in the chunk text: it is often what matches
                continue
        lines.append(line)
        has_body = has_body or bool(line.strip())
    flush()
    return sections


def markdown_title(text: str) -> str:
    """The document's first level-1 heading, else its first heading ("" when it has none)."""
    from ...markdown import code_lines

    lines = text.splitlines()
    code = code_lines(lines)
    headings = [(len(m.group(1)), m.group(2).strip()) for n, m in
                ((n, ATX_HEADING.match(line)) for n, line in enumerate(lines) if n not in code) if m]
    first_h1 = next((title for level, title in headings if level == 1), "")
    return _plain_title(first_h1 or (headings[0][1] if headings else ""))


def _plain_title(title: str) -> str:
    from ...markdown import plain_inline

    return " ".join(plain_inline(title).split())[:500]
