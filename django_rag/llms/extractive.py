"""The offline default "LLM": no model at all. It quotes the sources.

::

    DJANGO_RAG = {"LLMS": {"default": {"BACKEND": "django_rag.llms.extractive.LLM", "OPTIONS": {}}}}

It reads the same messages a real LLM gets and answers with the one to three sentences
of the sources that share the most (rare) words with the question, each followed by the
number of its source, e.g. ``Employees get twenty days of parental leave [2].`` It does
not understand, rephrase, combine, translate or reason: a question whose answer is not
written in the sources in words close to the question's gets a wrong quote or the
no-answer text. Use it to develop and demo a site without keys, network or GPU, and in
tests; configure a real LLM for users.

The message convention (what django-rag's ``answer.txt`` prompt template produces, and
what a template of your own must keep): the *last user message* holds the sources and
then the question::

    Sources:

    [1] Leave policy (page 3)
    Employees get twenty days of parental leave. They apply with form B.

    [2] Remote work
    ...

    Question: How long is parental leave?

- A line starting with ``[n]`` (a number, larger than the previous source's) begins
  source ``n``; the rest of that line is its title when more lines follow and it does not
  end like a sentence, else it is text. The following lines, up to the next source or the
  question, are the source's text. A line in a source's text that starts with a smaller
  or equal ``[m]`` (a bibliography entry, say) stays text.
- The question follows the last line starting with ``Question:``. Without one, the text
  before the first source is the question, or the whole message when there are no sources.
- Text before the first source (``Sources:``) and the system message are ignored.

How sentences are chosen: the text of each source is cleaned of Markdown (code blocks are
left out, as are tables' rule lines; ``**bold**``, ```code```, links and HTML tags keep only their
text) and split into sentences (blank lines, headings and list items end a block; a short
line without a sentence ending, followed by a line that starts a sentence, is a heading as
HTML's and PDFs' headings arrive; ``e.g.``, ``Dr.``, initials and decimals do not end a
sentence). Words are lower-cased, stripped of common English suffixes (``policies`` ->
``policy``, ``working`` -> ``work``) and of stop words. Each sentence is scored with BM25
(k1 1.2, b 0.75) against the question's words, with inverse document frequencies counted
over the sentences given. A sentence must share at least one word with the question;
question words found only in its source's title or section heading then add a third of
their weight (of two sentences about "twenty days", the one under the heading "Parental
leave" answers "How many days of parental leave?"). A question that asks for a kind of
answer (*who*: a person, role or team; *when*: a time; *where*: a place; *how many/much/
long*: a number; *how do I*: an instruction) triples the score of the sentences that hold
one, so "Who replaces the coolant?" is answered by the sentence naming the technician,
not by the one saying how often it is replaced. The best sentence is kept, with up to
``max_sentences - 1`` more that score at least half as well. Chunks overlap, so repeated
sentences, and sentences cut at a chunk boundary whose whole text is given elsewhere, are
dropped first. Citation marks such as ``[3]`` inside a quoted sentence are removed so that the
only citations in the answer are the real ones. If no sentence shares a word with the
question, the answer is the no-answer text.

Options: ``no_answer`` (default ``DJANGO_RAG["NO_ANSWER_TEXT"]`` when that setting
exists, else "I don't know: the sources do not contain the answer."), ``max_sentences``
(3). ``max_tokens`` and ``temperature`` are ignored. Usage is None: no tokens are spent.
It streams its answer word by word.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..conf import get_settings
from ..exceptions import RAGImproperlyConfigured
from ..markdown import SETEXT_UNDERLINE, TABLE_RULE, code_lines, plain_inline
from .base import BaseLLM, Completion, chunk_words

DEFAULT_NO_ANSWER = "I don't know: the sources do not contain the answer."

BM25_K1 = 1.2
BM25_B = 0.75
#: Weight of a question word found only in the source title or section heading.
CONTEXT_WEIGHT = 1 / 3
#: Further sentences must score at least this fraction of the best one.
KEEP_RATIO = 0.5
#: A sentence that starts in lower case was cut by a chunk boundary: prefer whole ones.
FRAGMENT_PENALTY = 0.8
#: A sentence holding the kind of answer the question asks for (a person for "who").
ANSWER_KIND_BOOST = 3.0
#: A line this short without a sentence ending, before a line that starts a sentence, is a heading.
HEADING_MAX_CHARS = 60
HEADING_MAX_WORDS = 8

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been before being below
    between both but by can cannot could couldn did didn do does doesn doing don down during each either else
    ever every few for from further get gets got had hadn has hasn have haven having he her here hers herself
    him himself his how however i if in into is isn it its itself just let like ll may me might more most much
    must mustn my myself need neither no nor not now of off on once one only or other ought our ours ourselves
    out over own please re s same shall shan she should shouldn so some such t than that the their theirs them
    themselves then there these they this those through to too under until up upon us ve very was wasn we were
    weren what whatever when where whether which while who whom whose why will with within without won would
    wouldn yes yet you your yours yourself yourselves tell know many
    """.split()
)

# Words after which a period does not end a sentence (lower-cased, without the period).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e eg ie cf al approx ca no nos fig figs vol vols p pp ch sec
    art para inc ltd co corp dept est govt jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri
    sat sun u.s u.k e.u a.m p.m ph.d min max incl
    """.split()
)

_SOURCE_HEADER = re.compile(r"^[ \t]*\[(\d{1,4})\][ \t]*(.*)$")
_QUESTION = re.compile(r"^[ \t]*question[ \t]*:[ \t]*", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•▪‣]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_PAGE = re.compile(r"\s*\(page \d+\)\s*$", re.IGNORECASE)
# A sentence ends at . ! ? or … (and any closing quotes or brackets) followed by spaces.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
# Citation marks a source may carry itself: [3], [2, 5], [1-4].
_CITATION_MARK = re.compile(r"\s*\[\d{1,4}(?:\s*[,;–-]\s*\d{1,4})*\]")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")

# What a sentence holds when it answers a question of each kind (see answer_kind()).
_ROLES = frozenset(
    """
    admin administrator agent board clerk committee contractor department desk developer director doctor
    engineer employee expert go-to lead maintainer manager nurse office officer operator owner person
    reception receptionist secretary service staff supervisor supplier support team technician vendor worker
    """.split()
)
_WEEKDAYS_MONTHS = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday weekday weekdays weekend weekends january february
    march april may june july august september october november december
    """.split()
)
_TIME_WORDS = frozenset(
    """
    every each daily weekly monthly yearly annually hourly nightly night morning evening afternoon noon midnight
    before after until during ahead ago today tomorrow yesterday day days week weeks month months year years hour
    hours minute minutes second seconds holiday holidays deadline o'clock
    """.split()
) | _WEEKDAYS_MONTHS
_PLACE_WORDS = frozenset(
    """
    in at into inside under store room floor building office folder directory file repository repo centre center
    site server channel page url desk drawer warehouse shelf cabinet city country street
    """.split()
)
_NUMBER_WORDS = frozenset(
    """
    one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty hundred
    thousand million dozen half
    """.split()
)
_CLOCK = re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:a\.m\.|p\.m\.|am\b|pm\b)|\b\d{1,2}:\d{2}\b|\b(?:19|20)\d{2}\b", re.I)
_DIGIT = re.compile(r"\d")
_PATH_OR_URL = re.compile(r"\w\.\w{1,4}\b|/\w|https?://")
_NAME = re.compile(r"(?<=[\s,(])[A-Z][a-z]+")


def stem(word: str) -> str:
    """A light English suffix stripper: enough to match plurals and -ing/-ed forms."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    # "leave"/"leaving", "case"/"cases": drop a final e so both forms meet.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The stemmed content words of ``text``."""
    out = []
    for match in _WORD.finditer(text.lower()):
        word = match.group().strip("_")
        if not word or word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        out.append(stem(word))
    return out


def split_sentences(block: str) -> list[str]:
    """Split a paragraph into sentences, keeping abbreviations, initials and decimals whole."""
    sentences = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        end = match.end()
        rest = block[end:]
        if rest[:1].islower():
            continue  # "e.g. the", "approx. twenty": the next word does not start a sentence
        before = block[start : match.start() + 1]
        last_word = before.rstrip(".!?…").rsplit(None, 1)[-1].lower() if before.strip(".!?… ") else ""
        last_word = last_word.lstrip("(\"'“‘[")
        if match.group().startswith(".") and (
            last_word in ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue  # "Dr. Smith", "J. Smith"
        sentence = block[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@dataclass
class Source:
    number: int
    title: str = ""
    lines: list[str] = field(default_factory=list)


@dataclass
class Sentence:
    source: int
    position: int
    text: str
    terms: Counter[str]
    context: frozenset[str]  # title and heading terms
    score: float = 0.0


def parse_message(content: str) -> tuple[list[Source], str]:
    """The numbered sources and the question in a user message (see the module docstring)."""
    lines = content.splitlines()
    question_at = None
    for n in range(len(lines) - 1, -1, -1):
        if _QUESTION.match(lines[n]):
            question_at = n
            break
    body = lines if question_at is None else lines[:question_at]
    sources: list[Source] = []
    preamble: list[str] = []
    for line in body:
        header = _SOURCE_HEADER.match(line)
        if header and (not sources or int(header.group(1)) > sources[-1].number):
            sources.append(Source(number=int(header.group(1)), lines=[header.group(2)]))
        elif sources:
            # Source text comes quoted ("> " on every line, generation/prompts.py).
            sources[-1].lines.append(line[2:] if line.startswith("> ") else line)
        else:
            preamble.append(line)
    for source in sources:
        first = source.lines[0].strip()
        more = any(line.strip() for line in source.lines[1:])
        # "[1] Leave policy (page 3)" then the text: a title. "[1] Twenty days." alone: text.
        if more and first and not _ENDS_SENTENCE.search(first):
            source.title = _PAGE.sub("", first)
            source.lines = source.lines[1:]
    if question_at is not None:
        question = "\n".join([_QUESTION.sub("", lines[question_at]), *lines[question_at + 1 :]])
    else:
        question = "\n".join(preamble)
        if sources:
            # Only "Sources:" before them: no question to be found.
            question = re.sub(r"(?im)^\s*sources\s*:\s*$", "", question)
    return sources, question.strip()


def prose_lines(lines: list[str]) -> list[str]:
    """The lines outside code blocks (a code block is not a sentence), each a blank line instead."""
    code = code_lines(lines)
    return ["" if n in code else line for n, line in enumerate(lines)]


def _starts_sentence(line: str) -> bool:
    first = line.strip()[:1]
    return first.isupper() or first.isdigit()


def _looks_like_heading(line: str, following: str) -> bool:
    """A plain-text heading (HTML and PDF text have no ``#``) before the text it heads."""
    text = line.strip()
    return (
        bool(text)
        and len(text) <= HEADING_MAX_CHARS
        and len(text.split()) <= HEADING_MAX_WORDS
        and _starts_sentence(text)
        and not re.search(r"[.!?…:;,]$", text)
        and _starts_sentence(following)
    )


def sentences_of(source: Source) -> list[Sentence]:
    """The sentences of a source's text, each with the words of its title and heading."""
    title_terms = frozenset(terms(source.title))
    heading_terms: frozenset[str] = frozenset()
    out: list[Sentence] = []
    block: list[str] = []

    def flush() -> None:
        text = " ".join(part.strip() for part in block).strip()
        block.clear()
        for sentence in split_sentences(text):
            sentence_terms = Counter(terms(sentence))
            if sentence_terms:
                out.append(
                    Sentence(source.number, len(out), sentence, sentence_terms, title_terms | heading_terms)
                )

    lines = [plain_inline(line) if line.strip() else "" for line in prose_lines(source.lines)]
    for n, line in enumerate(lines):
        following = lines[n + 1] if n + 1 < len(lines) else ""
        if not line.strip() or TABLE_RULE.match(line):
            flush()
        elif SETEXT_UNDERLINE.match(line) and block:
            # "Title" over "=====": the block so far is the heading.
            heading_terms = frozenset(terms(" ".join(block)))
            block.clear()
        elif _HEADING.match(line):
            flush()
            heading_terms = frozenset(terms(_HEADING.sub("", line)))
        elif (
            (not block or _ENDS_SENTENCE.search(block[-1].strip()))
            and _looks_like_heading(line, following)
            and not SETEXT_UNDERLINE.match(following)
        ):
            flush()
            heading_terms = frozenset(terms(line))
        elif _LIST_ITEM.match(line):
            flush()
            block.append(_LIST_ITEM.sub("", line))
        else:
            block.append(line.strip().strip("|").strip() if line.lstrip().startswith("|") else line)
    flush()
    return out


def score(sentences: list[Sentence], question_terms: list[str]) -> None:
    """Set each sentence's BM25 score for the question (IDF over these sentences)."""
    wanted = set(question_terms)
    n = len(sentences)
    df = Counter(t for s in sentences for t in wanted & s.terms.keys())
    context_df = Counter(t for s in sentences for t in wanted & (s.terms.keys() | s.context))
    average = sum(sum(s.terms.values()) for s in sentences) / n
    for s in sentences:
        length = sum(s.terms.values())
        total = 0.0
        for term in wanted:
            tf = s.terms.get(term, 0)
            if tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                total += idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / average))
            elif term in s.context:
                idf = math.log(1 + (n - context_df[term] + 0.5) / (context_df[term] + 0.5))
                total += CONTEXT_WEIGHT * idf
        if s.text[:1].islower():
            total *= FRAGMENT_PENALTY
        s.score = total


def answer_kind(question: str) -> str | None:
    """What kind of answer the question asks for: person, time, place, number, steps, or None."""
    words = [w.lower() for w in _WORD.findall(question)]
    first, second = (words + ["", ""])[:2]
    if first in {"who", "whom", "whose"}:
        return "person"
    if first == "when" or (first == "what" and second in {"time", "day", "date"}) or (
        first == "how" and second == "often"
    ):
        return "time"
    if first == "where":
        return "place"
    if first == "how" and second in {"many", "much", "long", "old", "big", "large", "far", "fast"}:
        return "number"
    if first == "how" and second in {"do", "does", "can", "could", "should", "to", "would"}:
        return "steps"
    return None


def holds_kind(sentence: Sentence, kind: str, question: str) -> bool:
    """Whether the sentence holds an answer of that kind (a role word, a time, a number...)."""
    text = sentence.text
    words = {w.lower() for w in _WORD.findall(text)}
    if kind == "person":
        asked = {w.lower() for w in _WORD.findall(question)}
        names = {m.group().lower() for m in _NAME.finditer(text)} - asked - _WEEKDAYS_MONTHS
        return bool(words & _ROLES or {stem(w) for w in words} & {stem(r) for r in _ROLES} or names)
    if kind == "time":
        return bool(words & _TIME_WORDS or _CLOCK.search(text))
    if kind == "place":
        return bool(words & _PLACE_WORDS or _PATH_OR_URL.search(text))
    if kind == "number":
        return bool(_DIGIT.search(text) or words & _NUMBER_WORDS)
    if kind == "steps":
        # An instruction: it starts with a verb of the question ("Install ..."), or it
        # introduces the commands that follow ("... with pip:").
        first_word = terms(text.split(None, 1)[0]) if text.split() else []
        imperative = text[:1].isupper() and bool(first_word) and first_word[0] in set(terms(question))
        return text.rstrip().endswith(":") or imperative
    return False


def boost_answer_kind(sentences: list[Sentence], question: str) -> None:
    """Multiply the scores of the sentences holding the kind of answer the question asks for."""
    kind = answer_kind(question)
    if kind is None:
        return
    for sentence in sentences:
        if holds_kind(sentence, kind, question):
            sentence.score *= ANSWER_KIND_BOOST


def cite(sentence: Sentence) -> str:
    """The sentence without citation marks of its own, followed by its source number."""
    text = _CITATION_MARK.sub("", sentence.text).strip()
    mark = f" [{sentence.source}]"
    if text.endswith(":"):  # "Install it with pip:" introduced a command that is not quoted
        return f"{text[:-1].rstrip()}{mark}:"
    ending = _ENDS_SENTENCE.search(text)
    if ending:
        return f"{text[: ending.start()].rstrip()}{mark}{text[ending.start():]}"
    return f"{text}{mark}."


def _normalised(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def unique(sentences: list[Sentence]) -> list[Sentence]:
    """Drop the copies that overlapping chunks make: repeats, and sentences cut at a chunk
    boundary whose whole text is another sentence. The first (best-ranked source) stays."""
    texts = [f" {_normalised(s.text)} " for s in sentences]
    kept = []
    for i, sentence in enumerate(sentences):
        duplicate = any(
            (texts[i] == texts[j] and j < i) or (texts[i] != texts[j] and texts[i] in texts[j])
            for j in range(len(sentences))
            if j != i
        )
        if not duplicate:
            kept.append(sentence)
    return kept


class LLM(BaseLLM):
    provider = "extractive"
    model_name = "v1"
    # It can only quote: asked to rewrite a follow-up question it would quote instead.
    can_condense = False

    def __init__(self, *, alias: str, no_answer: str | None = None, max_sentences: int = 3, **options: Any) -> None:
        super().__init__(alias=alias, **options)
        if no_answer is not None and (not isinstance(no_answer, str) or not no_answer.strip()):
            raise RAGImproperlyConfigured(f"{self.option_path('no_answer')} must be a non-empty string.")
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or not 1 <= max_sentences <= 10:
            raise RAGImproperlyConfigured(
                f"{self.option_path('max_sentences')} must be an integer from 1 to 10, not {max_sentences!r}."
            )
        self._no_answer = no_answer
        self.max_sentences = max_sentences

    @property
    def no_answer(self) -> str:
        if self._no_answer is not None:
            return self._no_answer
        # Read at call time, so one setting words "I don't know" everywhere.
        setting = get_settings().get("NO_ANSWER_TEXT")
        return setting if isinstance(setting, str) and setting.strip() else DEFAULT_NO_ANSWER

    def answer(self, messages: list[dict[str, str]]) -> str:
        """The extractive answer to the last user message."""
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        sources, question = parse_message(user)
        question_terms = terms(question)
        sentences = unique([s for source in sources for s in sentences_of(source)])
        if not sentences or not question_terms:
            return self.no_answer
        score(sentences, question_terms)
        boost_answer_kind(sentences, question)
        # Best first; ties go to the better-ranked source (lower number), then the earlier sentence.
        wanted = set(question_terms)
        # A sentence must share a word with the question itself; a matching title alone
        # says the source is on topic, not which of its sentences answers.
        ranked = sorted(
            (s for s in sentences if wanted & s.terms.keys()),
            key=lambda s: (-s.score, s.source, s.position),
        )
        if not ranked:
            return self.no_answer
        chosen = [s for s in ranked[: self.max_sentences] if s.score >= KEEP_RATIO * ranked[0].score]
        return " ".join(cite(s) for s in chosen)

    def _generate(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Completion:
        return Completion(text=self.answer(messages), usage=None, model=self.model_name)

    def _stream(
        self, messages: list[dict[str, str]], *, max_tokens: int | None, temperature: float | None
    ) -> Iterator[str | Completion]:
        completion = self._generate(messages, max_tokens=max_tokens, temperature=temperature)
        yield from chunk_words(completion.text)
        yield completion
