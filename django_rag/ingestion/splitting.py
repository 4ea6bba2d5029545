"""Cut extracted sections into chunks.

Each section (a PDF page, a Markdown or HTML section) is cut on its own, so a chunk never
straddles two. Within a section the text is read as blocks: headings, paragraphs,
Markdown pipe tables (and the ``a | b`` rows of HTML tables) and fenced code blocks;
paragraphs as list items and sentences. The pieces are packed into chunks of about
``CHUNK_SIZE``; when the next piece does not fit, the chunk ends at the strongest
boundary that leaves it at least half full (a quarter, before a heading): before a
heading, then between blocks (paragraphs, tables, code), then between list items or
sentences that end a line, then between sentences. So:

* a heading is never the last line of a chunk: it starts the chunk of the text under it;
* a table or a code block that fits in one chunk is never cut, it starts a new chunk
  instead; one longer than a chunk is cut between its rows or lines;
* ``CHUNK_OVERLAP`` repeats the last sentences of a chunk at the start of the next one
  (never across a heading);
* a sentence longer than a chunk is cut at ``SEPARATORS`` (by default ". ", then spaces),
  and at characters as the last resort.

Sizes are in ``CHUNK_UNIT``: characters, or tokens counted by the embedder's own
tokenizer (:meth:`~django_rag.embedders.BaseEmbedder.count_tokens`). Whatever the unit,
no chunk, with its context line, exceeds the embedder's input limit
(``max_input_tokens``): an over-long one is cut further, never left to the provider to
truncate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ..conf import get_settings
from ..markdown import LIST_ITEM, TABLE_RULE
from .extractors import Section
from .extractors.markdown import ATX_HEADING

if TYPE_CHECKING:
    from ..embedders import BaseEmbedder

logger = logging.getLogger("django_rag.ingestion")

#: The values of DJANGO_RAG["CHUNK_UNIT"].
CHUNK_UNITS = ("characters", "tokens")
#: Bumped when the same settings cut text differently; part of the ingestion signature.
#: 2: blocks, headings kept with their text, tables and code kept whole, token units.
SPLITTER_VERSION = 2

# How strongly a boundary separates what is before it from what is after it.
_SECTION, _BLOCK, _LINE, _SENTENCE, _WORD = 4, 3, 2, 1, 0

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
# The end of a sentence: its punctuation (and a closing quote or bracket) before a space;
# CJK full stops need no space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)|[。！？]")


@dataclass
class ChunkDraft:
    content: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Measure:
    """How chunks are measured for one embedder."""

    #: What CHUNK_SIZE and CHUNK_OVERLAP count: "characters" or "tokens".
    unit: str
    #: The length of a text in that unit.
    length: Callable[[str], int]
    #: The embedder's input limit in tokens (None: not known, nothing to enforce).
    limit: int | None
    #: Counts a text against ``limit``: the tokenizer, or characters for an embedder without one.
    limit_length: Callable[[str], int]


def chunk_unit(embedder: BaseEmbedder | None) -> str:
    """The unit in effect: "tokens" when asked for and the embedder can count them."""
    wanted = get_settings()["CHUNK_UNIT"]
    return "tokens" if wanted == "tokens" and embedder is not None and embedder.has_tokenizer() else "characters"


def measure_for(embedder: BaseEmbedder | None) -> Measure:
    unit = chunk_unit(embedder)
    if embedder is None:
        return Measure(unit, len, None, len)
    limit = embedder.resolve_max_input_tokens()
    if unit == "tokens":
        # Loaded now: a tokenizer that cannot load fails the document with its reason.
        counter = embedder.tokenizer()
        assert counter is not None
        return Measure(unit, counter, limit, counter)
    # For the limit alone the tokenizer is loaded only when a chunk could exceed it (see
    # _within_limit): a site counting characters far below the limit never loads one.
    return Measure(unit, len, limit, embedder.count_tokens if embedder.has_tokenizer() else len)


def splitter_options(embedder: BaseEmbedder | None = None) -> dict[str, Any]:
    """The settings that shape chunks; part of the ingestion signature."""
    settings = get_settings()
    unit = chunk_unit(embedder)
    return {
        "chunk_size": settings["CHUNK_SIZE"],
        "chunk_overlap": settings["CHUNK_OVERLAP"],
        "separators": list(settings["SEPARATORS"]),
        "chunk_unit": unit,
        "tokenizer": embedder.tokenizer_name() if unit == "tokens" and embedder is not None else None,
        "max_input_tokens": embedder.max_input_tokens_option if embedder is not None else None,
        "version": SPLITTER_VERSION,
    }


def _public(metadata: dict[str, Any]) -> dict[str, Any]:
    # Keys with a leading underscore are instructions from an extractor to the splitter
    # (a CSV's header line), not metadata to store.
    return {key: value for key, value in metadata.items() if not key.startswith("_")}


def split_sections(
    sections: list[Section],
    embedder: BaseEmbedder | None = None,
    *,
    context: Callable[[dict[str, Any]], str] | None = None,
) -> list[ChunkDraft]:
    """The chunks of ``sections``, measured for ``embedder`` (default: the default alias).

    ``context`` gives the context line a chunk will be embedded with (from its metadata):
    it counts against the embedder's input limit.
    """
    if embedder is None:
        from ..embedders import get_embedder

        embedder = get_embedder()
    settings = get_settings()
    measure = measure_for(embedder)
    size, overlap = settings["CHUNK_SIZE"], settings["CHUNK_OVERLAP"]
    separators = [s for s in settings["SEPARATORS"] if s]
    drafts = []
    for section in sections:
        header = section.metadata.get("_header")
        if isinstance(header, str) and header:
            splitter = RecursiveCharacterTextSplitter(
                chunk_size=size, chunk_overlap=overlap, separators=list(settings["SEPARATORS"]),
                length_function=measure.length, keep_separator="end", strip_whitespace=True,
            )
            pieces = split_rows(section, header, splitter, size)
        else:
            metadata = _public(section.metadata)
            pieces = [
                ChunkDraft(content, metadata)
                for content in split_text(section.text, size, overlap, measure.length, separators,
                                          heading=_section_heading(section.metadata))
            ]
        for draft in pieces:
            drafts.extend(_within_limit(draft, measure, separators, context))
    return drafts


def split_text(
    text: str, size: int, overlap: int, length: Callable[[str], int] = len, separators: list[str] | None = None,
    *, heading: str = "",
) -> list[str]:
    """Cut ``text`` into chunks of at most ``size`` (measured by ``length``) at its strongest
    boundaries, consecutive chunks sharing up to ``overlap``; see the module docstring.
    ``heading``: the section's heading, which an extractor may have left as plain first line."""
    separators = ["\n\n", "\n", ". ", " "] if separators is None else separators
    packer = _Packer(text, size, overlap, length, separators, tokens=length is not len)
    atoms = packer.atoms(_blocks(text, heading))
    return [text[start:end] for start, end in packer.pack(atoms)]


def _section_heading(metadata: dict[str, Any]) -> str:
    path = metadata.get("section")
    return path.split(" > ")[-1].strip() if isinstance(path, str) else ""


# --- blocks ----------------------------------------------------------------------------


@dataclass
class _Block:
    first: int  # line numbers, inclusive
    last: int
    kind: str  # "heading", "text", "table", "code"


def _is_table_start(lines: list[str], n: int) -> bool:
    if n + 1 >= len(lines):
        return False
    line, following = lines[n], lines[n + 1]
    # A Markdown pipe table (a header row, then |---|---|), or rows as the HTML extractor writes them.
    return ("|" in line and "|" in following and bool(TABLE_RULE.match(following))) or (
        " | " in line and " | " in following
    )


def _fence(line: str) -> str | None:
    match = _FENCE.match(line)
    # "```" followed by a backtick in the same line is inline code, not a fence (CommonMark).
    if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
        return match.group(1)
    return None


def _starts_block(lines: list[str], n: int) -> bool:
    return bool(_fence(lines[n]) or ATX_HEADING.match(lines[n]) or _is_table_start(lines, n))


def _blocks(text: str, heading: str = "") -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of each block of ``text``, as character offsets."""
    lines = text.split("\n")
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    blocks: list[_Block] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        if not line.strip():
            n += 1
            continue
        fence = _fence(line)
        if fence:
            end = n + 1
            while end < len(lines):
                close = _FENCE.match(lines[end])
                # A closing fence: the opening's character, at least as many, nothing after it.
                if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence) and not close.group(2).strip():
                    break
                end += 1
            blocks.append(_Block(n, min(end, len(lines) - 1), "code"))
            n = end + 1
        elif ATX_HEADING.match(line):
            blocks.append(_Block(n, n, "heading"))
            n += 1
        elif _is_table_start(lines, n):
            end = n + 1
            while end + 1 < len(lines) and "|" in lines[end + 1] and lines[end + 1].strip():
                end += 1
            blocks.append(_Block(n, end, "table"))
            n = end + 1
        else:
            end = n
            while end + 1 < len(lines) and lines[end + 1].strip() and not _starts_block(lines, end + 1):
                end += 1
            kind = "heading" if not blocks and end == n and heading and line.strip() == heading else "text"
            blocks.append(_Block(n, end, kind))
            n = end + 1
    return [(starts[b.first], starts[b.last] + len(lines[b.last]), b.kind) for b in blocks]


# --- atoms and packing ------------------------------------------------------------------


@dataclass
class _Atom:
    """The smallest piece packing moves: a heading, a sentence, a whole table..."""

    start: int
    end: int
    cost: int
    #: The strength of the boundary before this atom (_SECTION ... _WORD).
    before: int
    #: A heading: a chunk may not end with it.
    glue: bool = False


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class _Packer:
    def __init__(
        self, text: str, size: int, overlap: int, length: Callable[[str], int], separators: list[str], *, tokens: bool
    ) -> None:
        self.text, self.size, self.overlap, self.length = text, size, overlap, length
        self.separators, self.tokens = separators, tokens
        self._gaps: dict[tuple[int, int], int] = {}

    # -- making atoms -------------------------------------------------------------------

    def atom(self, start: int, end: int, before: int, glue: bool = False) -> _Atom:
        return _Atom(start, end, self.length(self.text[start:end]), before, glue)

    def pieces(self, start: int, end: int, before: int, limit: int | None = None) -> list[_Atom]:
        """``[start, end)`` as one atom, or cut at the separators into atoms of at most ``limit``."""
        start, end = _strip(self.text, start, end)
        cost = self.length(self.text[start:end])
        if cost <= (limit or self.size):
            return [_Atom(start, end, cost, before)] if start < end else []
        spans = cut_span(self.text, start, end, limit or self.size, self.length, self.separators)
        return [self.atom(s, e, before if n == 0 else _WORD) for n, (s, e) in enumerate(spans)]

    def atoms(self, blocks: list[tuple[int, int, str]]) -> list[_Atom]:
        atoms: list[_Atom] = []
        text = self.text
        for start, end, kind in blocks:
            if kind == "heading":
                start, end = _strip(text, start, end)
                atoms.extend(self.pieces(start, end, _SECTION) if self.length(text[start:end]) > self.size
                             else [self.atom(start, end, _SECTION, glue=True)])
                continue
            start, end = _strip(text, start, end)
            if kind in ("table", "code"):
                whole = self.atom(start, end, _BLOCK)
                if whole.cost <= self.size:
                    atoms.append(whole)
                    continue
                # Too long for one chunk: its rows or lines, cut only between them.
                for n, (line_start, line_end) in enumerate(self.lines(start, end)):
                    atoms.extend(self.pieces(line_start, line_end, _BLOCK if n == 0 else _LINE))
                continue
            # A paragraph's lines are often wrapped mid-sentence (PDFs, hard-wrapped Markdown):
            # its units are sentences, and a line break counts only at a list item or after
            # a sentence's end.
            for n, (item_start, item_end) in enumerate(self.items(start, end)):
                previous_end = item_start
                for m, (s, e) in enumerate(self.sentences(item_start, item_end)):
                    if m == 0:
                        before = _BLOCK if n == 0 else _LINE
                    else:
                        before = _LINE if "\n" in text[previous_end:s] else _SENTENCE
                    atoms.extend(self.pieces(s, e, before))
                    previous_end = e
        return atoms

    def items(self, start: int, end: int) -> list[tuple[int, int]]:
        """A paragraph's list items (each from its marker to the next), or the paragraph."""
        spans: list[tuple[int, int]] = []
        item_start = start
        for line_start, line_end in self.lines(start, end):
            if line_start > item_start and LIST_ITEM.match(self.text[line_start:line_end]):
                spans.append(_strip(self.text, item_start, line_start))
                item_start = line_start
        spans.append(_strip(self.text, item_start, end))
        return [span for span in spans if span[0] < span[1]]

    def lines(self, start: int, end: int) -> list[tuple[int, int]]:
        spans, position = [], start
        for line in self.text[start:end].split("\n"):
            s, e = _strip(self.text, position, position + len(line))
            if s < e:
                spans.append((s, e))
            position += len(line) + 1
        return spans

    def sentences(self, start: int, end: int) -> list[tuple[int, int]]:
        spans, position = [], start
        for match in _SENTENCE_END.finditer(self.text, start, end):
            s, e = _strip(self.text, position, match.end())
            if s < e:
                spans.append((s, e))
            position = match.end()
        s, e = _strip(self.text, position, end)
        if s < e:
            spans.append((s, e))
        return spans

    # -- packing ------------------------------------------------------------------------

    def gap(self, left: _Atom, right: _Atom) -> int:
        if not self.tokens:
            return right.start - left.end
        key = (left.end, right.start)
        cost = self._gaps.get(key)
        if cost is None:
            between = self.text[left.end : right.start]
            # A space joins the next word's token ("the cat": two tokens, not three); a
            # newline is a token of its own.
            cost = self._gaps[key] = self.length(between) if "\n" in between else 0
        return cost

    def cost(self, atoms: list[_Atom]) -> int:
        return sum(a.cost for a in atoms) + sum(self.gap(a, b) for a, b in zip(atoms, atoms[1:]))

    def pack(self, atoms: list[_Atom]) -> list[tuple[int, int]]:
        chunks: list[tuple[int, int]] = []
        current: list[_Atom] = []
        repeated = 0  # how many atoms at the start of current are the previous chunk's overlap
        used = 0
        n = 0
        while n < len(atoms):
            atom = atoms[n]
            added = atom.cost + (self.gap(current[-1], atom) if current else 0)
            if not current or used + added <= self.size:
                current.append(atom)
                used += added
                n += 1
                continue
            keep = self.best_cut(current, atom, repeated)
            if keep == 0:
                # Only headings (and overlap) so far, and the next atom does not fit beside
                # them: cut it so that its first part does, rather than end on a heading.
                room = self.size - used - self.gap(current[-1], atom)
                first = cut_span(self.text, atom.start, atom.end, room, self.length, self.separators)[0] if room > 0 else None
                if first is None or first == (atom.start, atom.end) or self.length(self.text[first[0]:first[1]]) > room:
                    keep = len(current)  # nothing fits: the heading ends this chunk after all
                else:
                    rest = _strip(self.text, first[1], atom.end)
                    atoms[n : n + 1] = [self.atom(*first, atom.before),
                                        *self.pieces(rest[0], rest[1], _WORD)]
                    continue
            keep = self.fit(current, keep, repeated)
            emitted, carried = current[:keep], current[keep:]
            chunks.append((emitted[0].start, emitted[-1].end))
            head = self.overlap_of(emitted, (carried or [atom])[0])
            # The overlap gives way to what is new: the next atom must fit after it.
            while head and self.cost(head + carried + [atom]) > self.size:
                head.pop(0)
            current, repeated = head + carried, len(head)
            used = self.cost(current)
        while current and len(current) > repeated:
            keep = self.fit(current, len(current), repeated)
            chunks.append((current[0].start, current[keep - 1].end))
            current, repeated = current[keep:], 0
        return chunks

    def fit(self, current: list[_Atom], keep: int, repeated: int) -> int:
        """``keep``, or fewer atoms when the chunk's real length is over the size.

        In tokens, the sum of the atoms' counts only estimates the chunk's (tokens merge
        across the cuts): the chunk is counted whole, and shortened at the latest allowed
        boundary until it fits. In characters the estimate is exact.
        """
        if not self.tokens:
            return keep
        # The estimate leaves out the spaces between pieces: a chunk within the size even
        # with a token for each of them needs no counting.
        spaces = sum(b.start - a.end for a, b in zip(current[: keep - 1], current[1:keep]) if self.gap(a, b) == 0)
        if self.cost(current[:keep]) + spaces <= self.size:
            return keep
        while keep > 1 and self.length(self.text[current[0].start : current[keep - 1].end]) > self.size:
            shorter = next(
                (k for k in range(keep - 1, repeated, -1) if not current[k - 1].glue), 0
            )
            if shorter == 0:
                break
            keep = shorter
        return keep

    def best_cut(self, current: list[_Atom], following: _Atom, repeated: int) -> int:
        """How many atoms of ``current`` make the chunk (0: no allowed cut).

        The strongest boundary that leaves the chunk at least half full (a quarter before
        a heading), the latest of equals; else the latest allowed. Never after a heading, and never so early that
        the chunk holds nothing but the previous one's overlap.
        """
        best: tuple[int, int] | None = None
        latest = 0
        filled = 0
        for keep in range(1, len(current) + 1):
            atom = current[keep - 1]
            filled += atom.cost + (self.gap(current[keep - 2], atom) if keep > 1 else 0)
            if keep <= repeated or atom.glue:
                continue
            latest = keep
            strength = current[keep].before if keep < len(current) else following.before
            # Half full, or a quarter before a heading: a new section is worth a shorter chunk.
            if filled * (4 if strength >= _SECTION else 2) >= self.size and (best is None or (strength, keep) >= best):
                best = (strength, keep)
        return best[1] if best is not None else latest

    def overlap_of(self, emitted: list[_Atom], following: _Atom) -> list[_Atom]:
        """The last atoms of ``emitted`` that fit in CHUNK_OVERLAP; none across a heading."""
        if not self.overlap or following.before >= _SECTION:
            return []
        head: list[_Atom] = []
        for atom in reversed(emitted[1:]):  # never the whole chunk again
            if self.cost([atom, *head]) > self.overlap:
                break
            head.insert(0, atom)
        return head


def cut_span(
    text: str, start: int, end: int, limit: int, length: Callable[[str], int], separators: list[str]
) -> list[tuple[int, int]]:
    """``text[start:end]`` as spans of at most ``limit``: cut at the first of ``separators``
    it contains (the pieces merged back while they fit), then the next for a piece still
    too long, and at characters last. Nothing is dropped but the whitespace at the cuts."""
    start, end = _strip(text, start, end)
    if start >= end:
        return []
    if length(text[start:end]) <= limit:
        return [(start, end)]
    for index, separator in enumerate(separators):
        if separator not in text[start:end]:
            continue
        parts, position = [], start
        while True:
            found = text.find(separator, position, end)
            stop = end if found < 0 else found + len(separator)
            part = _strip(text, position, stop)
            if part[0] < part[1]:
                parts.append(part)
            if found < 0:
                break
            position = stop
        spans: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for part in parts:
            if current is not None and length(text[current[0] : part[1]]) <= limit:
                current = (current[0], part[1])
                continue
            if current is not None:
                spans.append(current)
                current = None
            if length(text[part[0] : part[1]]) <= limit:
                current = part
            else:
                spans.extend(cut_span(text, part[0], part[1], limit, length, separators[index + 1 :]))
        if current is not None:
            spans.append(current)
        return spans
    # No separator left: the longest prefix within the limit, again and again.
    spans = []
    position = start
    while position < end:
        low, high = position + 1, end  # the answer is in [low, high]
        while low < high:
            middle = (low + high + 1) // 2
            if length(text[position:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        piece = _strip(text, position, low)
        if piece[0] < piece[1]:
            spans.append(piece)
        position = low
    return spans


# --- the input limit ----------------------------------------------------------------------


def _within_limit(
    draft: ChunkDraft, measure: Measure, separators: list[str], context: Callable[[dict[str, Any]], str] | None
) -> list[ChunkDraft]:
    """``draft``, or its pieces when it would exceed the embedder's input limit with its context."""
    limit = measure.limit
    if limit is None:
        return [draft]
    prefix = context(draft.metadata) if context is not None else ""
    embedded = f"{prefix}\n\n{draft.content}" if prefix else draft.content
    # No token covers less than a byte (byte-level BPE) or a character (WordPiece): a text
    # of no more UTF-8 bytes than the limit fits without counting, or loading a tokenizer.
    if len(embedded.encode("utf-8")) <= limit or measure.limit_length(embedded) <= limit:
        return [draft]
    room = limit - (measure.limit_length(f"{prefix}\n\n") if prefix else 0)
    room = max(room, limit // 4)  # a context line near the limit by itself: keep some text
    spans = cut_span(draft.content, 0, len(draft.content), room, measure.limit_length, ["\n\n", "\n", *separators])
    logger.info("A chunk over the embedder's input limit of %d tokens was cut in %d.", limit, len(spans))
    return [ChunkDraft(draft.content[s:e], draft.metadata) for s, e in spans]


def split_rows(section: Section, header: str, splitter: Any, size: int) -> list[ChunkDraft]:
    """Rows (one a line) in groups that fit ``size`` with the header line first; ``rows``
    says which (1 is the first row under the header). A row too long for a chunk of its
    own is cut like text, each piece under the header. Rows do not overlap: each is
    whole in one group, so there is nothing cut to repeat."""
    length = splitter._length_function
    metadata = _public(section.metadata)
    drafts: list[ChunkDraft] = []
    group: list[str] = []
    first = 1
    used = length(header)

    def flush(last: int) -> None:
        if group:
            drafts.append(ChunkDraft("\n".join([header, *group]), {**metadata, "rows": f"{first}-{last}"}))
            group.clear()

    for number, row in enumerate(section.text.split("\n"), start=1):
        cost = length(row) + 1
        if group and used + cost > size:
            flush(number - 1)
            used = length(header)
        if not group:
            first = number
        if length(header) + cost > size:
            # Too long even alone: its pieces, each with the header.
            room = max(size - length(header) - 1, size // 2)
            cutter = RecursiveCharacterTextSplitter(
                chunk_size=room, chunk_overlap=min(splitter._chunk_overlap, room // 2),
                length_function=length, separators=[" | ", " ", ""], keep_separator="end",
            )
            for piece in cutter.split_text(row):
                drafts.append(ChunkDraft(f"{header}\n{piece}", {**metadata, "rows": f"{number}-{number}"}))
            continue
        group.append(row)
        used += cost
    flush(len(section.text.split("\n")))
    return drafts
