"""Collect the Python and shell examples of docs/*.md, and run them.

Each fenced ``python``, ``sh``, ``bash`` or ``console`` block of a page is an example. An
HTML comment on the line before the fence (blank lines between are allowed) tells the
runner what the example needs; the reader of the site never sees it::

    <!-- example: setup=collection_with_documents -->
    <!-- example: module=mysite/rag.py -->
    <!-- example: settings requires=sentence_transformers -->
    <!-- example: continue -->

``setup=a,b``
    named setups from tests/docs/setups.py: they create rows and return the names the
    example uses without defining them (``request``, ``document``, ``question``...).
``module=path/to/file.py``
    the block is a module file: it is written under a directory on ``sys.path`` and
    imported, and the next examples of the page can import it (a custom embedder, an
    access policy, an app's ``apps.py``).
``settings``
    the block is a piece of a settings file: it is evaluated over the test project's
    settings, the names it assigns are applied with ``override_settings`` and the system
    checks must pass with them (databases it describes are connected to).
``continue``
    run after the page's previous example, in the same namespace.
``requires=a,b``
    importable modules (or ``env:NAME`` variables) without which the example is
    skipped, with the reason in pytest's summary.
``transaction``
    run in a transactional test database (an example with top-level ``await`` is one).

A block that cannot run at all says so where the reader sees it, in the fence's title:
```` ```sh title="Not run: starts a server until stopped" ````. Anything else that is
not a marked or runnable example fails the tests: a new example is run, or says why not.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

PYTHON = {"python", "py", "pycon"}
SHELL = {"sh", "bash", "console", "shell"}

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
MARKER = re.compile(r"^[ \t]*<!--\s*example:(?P<options>.*?)-->[ \t]*$")
TITLE = re.compile(r'title="(?P<title>[^"]*)"')
KNOWN_OPTIONS = {"setup", "module", "settings", "continue", "requires", "transaction"}


class MarkerError(ValueError):
    """A marker the runner does not understand: a typo must not quietly skip an example."""


@dataclass
class Example:
    page: Path
    line: int
    lang: str
    title: str
    body: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def not_run(self) -> str | None:
        """The reason the page gives for not running it, or None."""
        if self.title.lower().startswith("not run"):
            return self.title.partition(":")[2].strip() or self.title
        return None

    @property
    def setups(self) -> list[str]:
        return [name for name in self.options.get("setup", "").split(",") if name]

    @property
    def requires(self) -> list[str]:
        return [name for name in self.options.get("requires", "").split(",") if name]

    @property
    def module(self) -> str | None:
        return self.options.get("module") or None

    @property
    def is_settings(self) -> bool:
        return "settings" in self.options

    @property
    def continues(self) -> bool:
        return "continue" in self.options

    @property
    def transaction(self) -> bool:
        return "transaction" in self.options or (self.lang in PYTHON and "await " in self.body)

    @property
    def kind(self) -> str:
        return "python" if self.lang in PYTHON else "shell"


def parse_options(text: str, where: str) -> dict[str, str]:
    options = {}
    for token in text.split():
        name, _, value = token.partition("=")
        if name not in KNOWN_OPTIONS:
            raise MarkerError(f"{where}: unknown example option {name!r} (known: {', '.join(sorted(KNOWN_OPTIONS))})")
        options[name] = value
    return options


def page_examples(page: Path) -> list[Example]:
    text = page.read_text()
    lines = text.splitlines()
    examples = []
    for match in FENCE.finditer(text):
        lang = match["lang"].lower()
        line = text.count("\n", 0, match.start()) + 1
        options: dict[str, str] = {}
        # The marker is the nearest non-blank line above the fence.
        above = line - 2
        while above >= 0 and not lines[above].strip():
            above -= 1
        marker = MARKER.match(lines[above]) if above >= 0 else None
        if marker:
            options = parse_options(marker["options"], f"{page.relative_to(REPO)}:{above + 1}")
        if lang not in PYTHON | SHELL:
            if marker:
                raise MarkerError(f"{page.relative_to(REPO)}:{line}: an example marker before a {lang or 'plain'} block")
            continue
        indent = match["indent"]
        body = "\n".join(l[len(indent):] if l.startswith(indent) else l.lstrip() for l in match["body"].splitlines())
        title = TITLE.search(match["info"])
        examples.append(Example(page, line, lang, title["title"] if title else "", body + "\n", options))
    return examples


def all_examples() -> list[Example]:
    return [example for page in sorted(DOCS.rglob("*.md")) for example in page_examples(page)]


def chain(example: Example, examples: list[Example]) -> list[Example]:
    """The examples to run for ``example``: those it continues, then itself."""
    same_page = [e for e in examples if e.page == example.page]
    index = same_page.index(example)
    start = index
    while start > 0 and same_page[start].continues:
        start -= 1
    return same_page[start : index + 1]


def modules_before(example: Example, examples: list[Example]) -> list[Example]:
    """The module files the page shows up to and including ``example``."""
    return [e for e in examples if e.page == example.page and e.module and e.line <= example.line]


def shell_commands(body: str) -> list[tuple[list[str], str]]:
    """The commands of a shell block, as words and as the line a shell would read:
    continuation lines joined, comments and ``$ `` prompts dropped."""
    commands = []
    for logical in re.sub(r"\\\n", " ", body).splitlines():
        logical = logical.strip()
        if logical.startswith("$ "):
            logical = logical[2:]
        words = shlex.split(logical, comments=True)
        if words:
            commands.append((words, logical))
    return commands
