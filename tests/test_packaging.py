"""pyproject.toml says what tox.ini tests (issue 19, item 8)."""

from __future__ import annotations

import configparser
import re
import tomllib

from tests.settings import REPO_DIR


def _tox_matrix() -> tuple[set[str], set[str]]:
    """The Python and Django versions of tox.ini's env_list, expanded ({52,61} and all)."""
    config = configparser.ConfigParser()
    config.read(REPO_DIR / "tox.ini")
    pythons: set[str] = set()
    djangos: set[str] = set()
    for line in config["tox"]["env_list"].split():
        for py, django in re.findall(r"py(\{[\d,]+\}|\d+)-django(\{[\d,]+\}|\d+)", line) or []:
            for version in py.strip("{}").split(","):
                pythons.add(f"{version[0]}.{version[1:]}")
            for version in django.strip("{}").split(","):
                djangos.add(f"{version[0]}.{version[1:]}")
    return pythons, djangos


def test_classifiers_name_the_tox_matrix():
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    classifiers = project["classifiers"]
    pythons, djangos = _tox_matrix()
    assert pythons and djangos, "tox.ini's env_list was not understood"
    assert {c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == pythons
    assert {c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django :: ")} == djangos
    lowest = min(pythons, key=lambda v: tuple(map(int, v.split("."))))
    assert project["requires-python"] == f">={lowest}"


def test_core_dependencies_are_the_ones_the_core_imports():
    """langchain-core, langchain-text-splitters and pypdf are core, not extras: the core imports them."""
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    assert {"django", "pgvector", "psycopg", "langchain-core", "langchain-text-splitters", "pypdf"} == names
    sources = "\n".join(p.read_text() for p in (REPO_DIR / "django_rag").rglob("*.py"))
    for module in ("langchain_core", "langchain_text_splitters", "pypdf"):
        assert re.search(rf"^\s*(from|import) {module}\b", sources, re.M), module
