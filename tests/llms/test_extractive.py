"""The offline extractive "LLM": the right sentence, the right citation, or "I don't know"."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string

from django_rag.exceptions import RAGImproperlyConfigured
from django_rag.llms import get_llm
from django_rag.llms.extractive import DEFAULT_NO_ANSWER, LLM, parse_message, split_sentences, stem

SYSTEM = {"role": "system", "content": "Answer only from the numbered sources. Cite them like [1]."}

LEAVE = (
    "Employees get twenty days of parental leave per child. The leave can be split into two parts. "
    "Requests go to the HR office."
)
REMOTE = "Staff may work from home two days a week. Managers approve remote work in advance."
SICK = "Sick leave must be reported to your manager before 10 a.m. on the first day."


def prompt(question: str, *sources: tuple[str, str]) -> list[dict[str, str]]:
    """Messages in the documented convention: numbered sources, then the question."""
    parts = ["Sources:", ""]
    for n, (title, text) in enumerate(sources, start=1):
        parts += [f"[{n}] {title}", text, ""]
    parts.append(f"Question: {question}")
    return [SYSTEM, {"role": "user", "content": "\n".join(parts)}]


@pytest.fixture
def llm():
    return LLM(alias="default", no_answer="NO ANSWER")


SOURCES = [("Leave policy (page 2)", LEAVE), ("Remote work", REMOTE), ("Sickness", SICK)]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "How many days of parental leave do employees get?",
            "Employees get twenty days of parental leave per child [1].",
        ),
        ("Can I work from home?", "Staff may work from home two days a week [2]."),
        (
            "When must sick leave be reported?",
            "Sick leave must be reported to your manager before 10 a.m. on the first day [3].",
        ),
        ("Who approves remote work?", "Managers approve remote work in advance [2]."),
    ],
)
def test_answers_with_the_best_sentence_and_its_source_number(llm, question, answer):
    assert llm.generate(prompt(question, *SOURCES)).text == answer


def test_citations_follow_the_numbers_in_the_message_not_positions(llm):
    user = "Sources:\n\n[4] Remote work\n" + REMOTE + "\n\n[7] Leave\n" + LEAVE + "\n\nQuestion: Where do requests go?"
    assert llm.generate([{"role": "user", "content": user}]).text == "Requests go to the HR office [7]."


def test_rare_question_words_outweigh_common_ones(llm):
    # "leave" is in most sentences, "split" in one: IDF picks that one.
    answer = llm.generate(prompt("Can parental leave be split?", *SOURCES)).text
    assert answer.startswith("The leave can be split into two parts [1].")


def test_no_overlap_answers_the_no_answer_text(llm):
    assert llm.generate(prompt("What is the capital of France?", *SOURCES)).text == "NO ANSWER"
    assert llm.generate(prompt("What is it?", *SOURCES)).text == "NO ANSWER"  # stop words only
    assert llm.generate(prompt("", *SOURCES)).text == "NO ANSWER"


def test_no_answer_text_comes_from_the_option_then_the_setting(rag_settings):
    rag_settings(NO_ANSWER_TEXT="Nothing in the handbook about that.")
    assert LLM(alias="x").generate(prompt("Capital of France?", *SOURCES)).text == "Nothing in the handbook about that."
    assert LLM(alias="x", no_answer="Dunno.").generate(prompt("Capital of France?")).text == "Dunno."
    rag_settings(NO_ANSWER_TEXT="")
    assert LLM(alias="x").generate(prompt("Capital of France?")).text == DEFAULT_NO_ANSWER


def test_no_sources_at_all(llm):
    assert llm.generate(prompt("How many days of parental leave?")).text == "NO ANSWER"
    # A bare question, no convention at all: the whole message is the question.
    assert llm.generate([{"role": "user", "content": "How many days of leave?"}]).text == "NO ANSWER"


def test_several_relevant_sentences_up_to_max_sentences_without_repeats(llm):
    # Overlapping chunks repeat a sentence, whole or cut at the chunk boundary.
    overlap = "of parental leave per child. The leave can be split into two parts."
    sources = [("Leave", LEAVE), ("Leave (continued)", overlap), ("Remote", REMOTE)]
    question = "How many days of parental leave, and can the leave be split?"
    answer = llm.generate(prompt(question, *sources)).text
    # Best first; the copies in source 2 (whole, and cut to "of parental leave per child.") are skipped.
    assert answer == (
        "Employees get twenty days of parental leave per child [1]. The leave can be split into two parts [1]."
    )
    one = LLM(alias="x", max_sentences=1).generate(prompt(question, *sources)).text
    assert one == "Employees get twenty days of parental leave per child [1]."
    # A sentence that scores less than half the best one is left out.
    answer = llm.generate(prompt("Can the leave be split?", *sources)).text
    assert answer == "The leave can be split into two parts [1]."


def test_brackets_in_source_text(llm):
    text = (
        "The allowance is 30 days [4] as set by the works council [see note].\n"
        "[1] Council decision of 2021, section [2].\n"
        "Unused days expire in March."
    )
    messages = prompt("How many allowance days?", ("Leave", LEAVE), ("Holidays", text))
    sources, question = parse_message(messages[1]["content"])
    # "[1] Council decision" is not a new source: its number is not above the current one.
    assert [s.number for s in sources] == [1, 2]
    assert "[1] Council decision of 2021, section [2]." in sources[1].lines
    assert question == "How many allowance days?"
    # The source's own citation marks are dropped: only real citations remain.
    assert llm.generate(messages).text == "The allowance is 30 days as set by the works council [see note] [2]."


def test_the_question_is_after_the_last_question_line(llm):
    faq = "Question: Can I carry over leave?\nAnswer: Up to five days can be carried over to April."
    messages = prompt("How many days can be carried over?", ("FAQ", faq), ("Remote", REMOTE))
    sources, question = parse_message(messages[1]["content"])
    assert question == "How many days can be carried over?"
    assert llm.generate(messages).text == "Answer: Up to five days can be carried over to April [1]."


def test_only_the_last_user_message_is_read(llm):
    messages = [
        SYSTEM,
        {"role": "user", "content": "[1] Old\nThe canteen opens at noon.\n\nQuestion: When does the canteen open?"},
        {"role": "assistant", "content": "At noon [1]."},
        *prompt("When does the canteen open?", *SOURCES)[1:],
    ]
    assert llm.generate(messages).text == "NO ANSWER"


def test_without_a_question_label_the_text_before_the_sources_is_the_question(llm):
    user = "Who approves remote work?\n\n[1] Remote\n" + REMOTE
    assert llm.generate([{"role": "user", "content": user}]).text == "Managers approve remote work in advance [1]."


def test_title_and_heading_words_break_ties(llm):
    text_a = "It lasts twenty days."
    text_b = "# Parental leave\nIt lasts twenty days in total."
    sources = [("Sick leave rules", "It lasts twenty days for the flu."), ("Benefits", text_b), ("Other", text_a)]
    answer = llm.generate(prompt("How many days does parental leave last?", *sources)).text
    assert answer.split(" [")[0] == "It lasts twenty days in total"
    assert "[2]" in answer.split(".")[0]


def test_a_matching_title_alone_is_not_an_answer(llm):
    assert llm.generate(prompt("parental leave?", ("Parental leave", "Ask HR for the form."))).text == "NO ANSWER"


def test_list_items_and_one_line_sources(llm):
    user = (
        "Sources:\n[1] Equipment\n- Laptops are replaced every three years\n- Phones every two years\n\n"
        "[2] Remote work is allowed two days a week.\n\nQuestion: How often are phones replaced?"
    )
    sources, _ = parse_message(user)
    assert sources[1].title == "" and sources[1].lines == ["Remote work is allowed two days a week.", ""]
    # The laptops item also says "replaced", almost as well: both are quoted, the best first.
    answer = llm.generate([{"role": "user", "content": user}]).text
    assert answer == "Phones every two years [1]. Laptops are replaced every three years [1]."


def test_other_languages_match_on_words():
    text = "Die Elternzeit dauert bis zu drei Jahre. Der Urlaub beträgt 30 Tage."
    german = prompt("Wie lange dauert die Elternzeit?", ("Handbuch", text))
    assert LLM(alias="x").generate(german).text == "Die Elternzeit dauert bis zu drei Jahre [1]."


def test_sentence_splitting_keeps_abbreviations_initials_and_decimals():
    text = "Dr. J. Smith approves leave, e.g. for 2.5 days. It starts at 9 a.m. Monday? Yes! Then stop."
    assert split_sentences(text) == [
        "Dr. J. Smith approves leave, e.g. for 2.5 days.",
        "It starts at 9 a.m. Monday?",
        "Yes!",
        "Then stop.",
    ]


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("policy", "policies"), True),
        (("work", "working", "worked", "works"), True),
        (("leave", "leaves", "leaving"), True),
        (("employee", "employees"), True),
        (("process", "processes"), True),
        (("string", "strings"), True),
        (("day", "daily"), False),
    ],
)
def test_light_stemming(words, same):
    assert (len({stem(w) for w in words}) == 1) is same


def test_streams_word_by_word_without_usage_and_async(llm):
    messages = prompt("Can I work from home?", *SOURCES)
    stream = llm.stream(messages)
    assert list(stream) == ["Staff ", "may ", "work ", "from ", "home ", "two ", "days ", "a ", "week ", "[2]."]
    assert stream.completion.usage is None and llm.last_usage is None

    async def run():
        return [p async for p in llm.astream(messages)], await llm.agenerate(messages)

    pieces, completion = asyncio.run(run())
    assert "".join(pieces) == completion.text == "Staff may work from home two days a week [2]."


def test_is_the_zero_config_default(rag_settings):
    from django.conf import settings

    rag_settings()  # tests/settings.py configures no LLMS
    assert "LLMS" not in settings.DJANGO_RAG
    llm = get_llm()
    assert isinstance(llm, LLM) and llm.identity == "extractive:v1"
    assert llm.can_condense is False and llm.check() == []


@pytest.mark.parametrize(
    ("options", "setting"), [({"max_sentences": 0}, "max_sentences"), ({"no_answer": " "}, "no_answer")]
)
def test_invalid_options_name_the_setting(options, setting):
    with pytest.raises(RAGImproperlyConfigured, match=rf'\["OPTIONS"\]\["{setting}"\]'):
        LLM(alias="default", **options)


def test_reads_the_messages_of_the_answer_prompt_template(llm):
    # The contract with django_rag/templates/django_rag/prompts/answer.txt, which builds
    # the messages in production: render it with sources shaped like the real ones.
    sources = [
        SimpleNamespace(number=1, title="Remote work", page=None, text=REMOTE),
        SimpleNamespace(number=2, title="Leave policy", page=4, text="# Parental leave\n\n" + LEAVE),
    ]
    context = {"question": "Where do requests go?", "sources": sources}
    content = render_to_string("django_rag/prompts/answer.txt", context)
    parsed, question = parse_message(content)
    assert [(s.number, s.title) for s in parsed] == [(1, "Remote work"), (2, "Leave policy")]
    assert question == "Where do requests go?"
    answer = llm.generate([SYSTEM, {"role": "user", "content": content}]).text
    assert answer == "Requests go to the HR office [2]."


# --- issue 18: clean quotes, headings apart, the sentence that answers wins ---------

from tests.llms import answer_questions  # noqa: E402


@pytest.mark.parametrize("case", answer_questions.CASES, ids=lambda case: case.question)
def test_the_sentence_that_answers_the_question_wins(llm, case):
    answer = llm.generate(answer_questions.prompt(case)).text
    assert answer_questions.first_sentence(answer).startswith(case.answer)


def test_the_share_of_right_answer_sentences_on_the_question_set(llm):
    # 55% (11 of 20) before issue 18's changes, 100% after: see the module's docstring.
    share, misses = answer_questions.answer_share(llm)
    assert share == 1.0, misses


def test_quoted_text_carries_no_markdown(llm):
    text = (
        "## Setup\n**Install** the `django-rag` package from [PyPI](https://pypi.org/project/django-rag/) with pip:\n\n"
        "```sh\npip install django-rag\n```\n\n<b>Then</b> run _migrate_ once."
    )
    answer = llm.generate(prompt("How do I install the package from PyPI?", ("Setup", text))).text
    assert answer == "Install the django-rag package from PyPI with pip [1]:"
    for markup in ("`", "**", "##", "](", "<b>", "pip install"):
        assert markup not in answer


def test_code_blocks_are_not_quoted_even_when_the_chunk_cuts_them(llm):
    # The chunk starts inside a code block (its closing fence comes first) and ends inside another.
    text = 'timeout = 30  # seconds of timeout\n```\n\nThe timeout is thirty seconds.\n\n```python\nTIMEOUT = 30'
    assert llm.generate(prompt("What is the timeout?", ("Settings", text))).text == "The timeout is thirty seconds [1]."


def test_a_plain_heading_line_is_kept_apart_from_the_sentence_below_it(llm):
    # HTML and PDF text carry headings as lines of their own, without "#".
    text = "Parental leave\nEmployees get twenty days of parental leave.\nRemote work\nStaff work from home on Fridays."
    answer = llm.generate(prompt("How many days of parental leave?", ("Handbook", text))).text
    assert answer == "Employees get twenty days of parental leave [1]."
    # A hard-wrapped paragraph is not a heading: its next line goes on mid-sentence.
    wrapped = "Parental leave lasts\ntwenty days for every employee."
    answer = llm.generate(prompt("How long is parental leave?", ("Handbook", wrapped))).text
    assert answer == "Parental leave lasts twenty days for every employee [1]."


def test_setext_headings_and_table_rules(llm):
    text = "Parental leave\n==============\n\n| Kind | Days |\n|---|---|\n| Parental | twenty days |"
    answer = llm.generate(prompt("How many days of parental leave?", ("Handbook", text))).text
    assert answer == "Parental | twenty days [1]."
