"""A small question set for the offline extractive answerer (issue 18, item 3).

Each case is one prompt's sources, written the way chunks of real documents arrive
(Markdown with headings, code fences, inline markup and links; HTML text whose headings
are lines of their own; overlapping wording), a question, and the sentence that answers
it. ``answer_share()`` is the share of cases whose answer starts with that sentence:
tests/llms/test_extractive.py requires all of them, and the number before and after a
change to the ranking is what to report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    question: str
    sources: tuple[tuple[str, str], ...]
    answer: str  # the start of the sentence that answers, as the answerer should quote it


COOLANT = (
    "Cooling system",
    "## Coolant\n"
    "The coolant of the main chiller must be replaced every 47 days.\n"
    "Only Dana Ruiz, the site's certified technician, replaces the coolant.\n"
    "Old coolant goes to the hazardous waste store.",
)
INSTALL = (
    "Installation",
    "# Installation\n"
    "Install the package with pip:\n\n"
    "```sh\n"
    "pip install \"django-rag[embedded]\"\n"
    "```\n\n"
    "Then add `\"django_rag\"` to **INSTALLED_APPS** and run `manage.py migrate`.\n\n"
    "## Requirements\n"
    "django-rag needs PostgreSQL 14 or newer with the [pgvector](https://github.com/pgvector/pgvector) extension.",
)
HTML_LEAVE = (
    "Leave policy",
    "Parental leave\n"
    "Employees get twenty days of paid parental leave per child.\n"
    "Requests\n"
    "Requests for parental leave go to the HR office two weeks ahead.",
)
SERVER = (
    "Operations handbook",
    "### Backups\n"
    "Backups of the database run every night at 02:00.\n"
    "The backup job is owned by the platform team.\n"
    "Backups are kept in the Frankfurt data centre for 90 days.\n\n"
    "### Restores\n"
    "A restore of the database takes about 40 minutes.\n"
    "Restores are requested from the on-call engineer through the #ops channel.",
)
OFFICE = (
    "Office guide",
    "## Keys\n"
    "Office keys are handed out by reception on the ground floor.\n"
    "Lost office keys cost 25 euros to replace.\n\n"
    "## Hours\n"
    "The office is open from 7 a.m. to 8 p.m. on weekdays.\n"
    "The office is closed on public holidays.",
)
RELEASE = (
    "Release process",
    "Releases\n"
    "A new release is published on the first Monday of every month.\n"
    "Releases are signed by the release manager, Priya Natarajan.\n"
    "The release notes live in `CHANGELOG.md` at the top of the repository.",
)
CONFIG = (
    "Settings",
    "## CHUNK_SIZE\n"
    "Each chunk holds at most 1200 characters of text.\n\n"
    "```python\n"
    "DJANGO_RAG = {\n"
    "    \"CHUNK_SIZE\": 800,\n"
    "}\n"
    "```\n\n"
    "Smaller chunks make citations more precise, larger chunks give the model more context.",
)

CASES = (
    Case("Who replaces the coolant?", (COOLANT,), "Only Dana Ruiz, the site's certified technician, replaces the coolant"),
    Case("How often is the coolant replaced?", (COOLANT,), "The coolant of the main chiller must be replaced every 47 days"),
    Case("Where does old coolant go?", (COOLANT,), "Old coolant goes to the hazardous waste store"),
    Case("How do I install django-rag?", (INSTALL,), "Install the package with pip"),
    Case("Which PostgreSQL version does django-rag need?", (INSTALL,),
         "django-rag needs PostgreSQL 14 or newer with the pgvector extension"),
    Case("How many days of parental leave do employees get?", (HTML_LEAVE,),
         "Employees get twenty days of paid parental leave per child"),
    Case("Who handles requests for parental leave?", (HTML_LEAVE,),
         "Requests for parental leave go to the HR office two weeks ahead"),
    Case("When do database backups run?", (SERVER,), "Backups of the database run every night at 02:00"),
    Case("Who owns the backup job?", (SERVER,), "The backup job is owned by the platform team"),
    Case("Where are backups kept?", (SERVER,), "Backups are kept in the Frankfurt data centre for 90 days"),
    Case("How long does a restore of the database take?", (SERVER,),
         "A restore of the database takes about 40 minutes"),
    Case("Who do I ask for a database restore?", (SERVER,),
         "Restores are requested from the on-call engineer through the #ops channel"),
    Case("Who hands out office keys?", (OFFICE,), "Office keys are handed out by reception on the ground floor"),
    Case("How much does it cost to replace lost office keys?", (OFFICE,), "Lost office keys cost 25 euros to replace"),
    Case("When is the office open?", (OFFICE,), "The office is open from 7 a.m. to 8 p.m. on weekdays"),
    Case("When is a new release published?", (RELEASE,),
         "A new release is published on the first Monday of every month"),
    Case("Who signs the releases?", (RELEASE,), "Releases are signed by the release manager, Priya Natarajan"),
    Case("Where are the release notes?", (RELEASE,), "The release notes live in CHANGELOG.md at the top of the repository"),
    Case("How many characters does a chunk hold?", (CONFIG,), "Each chunk holds at most 1200 characters of text"),
    Case("Who replaces the coolant of the chiller?", (SERVER, COOLANT),
         "Only Dana Ruiz, the site's certified technician, replaces the coolant"),
)


def prompt(case: Case) -> list[dict[str, str]]:
    parts = ["Sources:", ""]
    for n, (title, text) in enumerate(case.sources, start=1):
        parts += [f"[{n}] {title}", text, ""]
    parts.append(f"Question: {case.question}")
    return [{"role": "user", "content": "\n".join(parts)}]


def first_sentence(answer: str) -> str:
    """The quoted text of the answer's first sentence, without its citation mark."""
    import re

    return re.split(r" \[\d+\]", answer, maxsplit=1)[0]


def answer_share(llm) -> tuple[float, list[tuple[str, str]]]:
    """The share of cases answered with the right sentence, and the misses (question, got)."""
    misses = []
    for case in CASES:
        got = first_sentence(llm.generate(prompt(case)).text)
        if not got.startswith(case.answer):
            misses.append((case.question, got))
    return 1 - len(misses) / len(CASES), misses


if __name__ == "__main__":  # python -m tests.llms.answer_questions (with the code to measure on the path)
    from django_rag.llms.extractive import LLM

    share, misses = answer_share(LLM(alias="default", no_answer="NO ANSWER"))
    print(f"right answer sentence: {share:.0%} of {len(CASES)}")
    for question, got in misses:
        print(f"  {question!r} -> {got!r}")
