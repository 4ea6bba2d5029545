"""The typed API: mypy in strict mode is clean over django_rag/, and checks callers' code.

``django_rag/py.typed`` tells type checkers to trust these annotations, which is only
honest while they hold. The first test runs mypy exactly as ``tox -e typecheck`` does
(the ``[tool.mypy]`` settings in pyproject.toml) and fails with its report; the second
shows that a caller's mistakes against the public functions are caught, so the check can
fail; the others check the top-level names (django_rag/__init__.py): stand-ins that
import their module on first call, while type checkers see the real functions.

mypy keeps its cache in .mypy_cache, so a run after a small change rechecks only what
changed (a cold run takes longer: the whole of Django's stubs, LangChain, pydantic...).
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import django_rag
from tests.settings import REPO_DIR

pytestmark = pytest.mark.slow


def run_mypy(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    """mypy with the project's configuration (pyproject.toml), from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", *map(str, paths)],
        cwd=REPO_DIR, capture_output=True, text=True, timeout=900, check=False,
    )


def test_the_package_is_clean_under_mypy_strict():
    result = run_mypy()  # the files of [tool.mypy]: django_rag/
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}{result.stderr}"
    assert result.stdout.startswith("Success: no issues found"), result.stdout


CALLER = '''\
import django_rag
from django_rag.models import Chunk
from django_rag.retrieval import SearchOptions

answer = django_rag.ask("How long is parental leave?", colection="hr")
chunks = django_rag.search("parental leave", k="five")
django_rag.search("parental leave", mode="fuzzy")
length: int = django_rag.ask("How long is parental leave?").text
SearchOptions(candidates="many")
reveal_type(Chunk.objects.filter(index=0).hybrid("leave").visible_to(None))
reveal_type(Chunk.objects.top("leave", 3, mode="keyword", options=SearchOptions(candidates=50)))
reveal_type(django_rag.ask("How long is parental leave?", k=3, candidates=20).citations)
'''


def test_callers_are_checked_against_the_typed_api(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER)
    result = run_mypy(caller)
    report = result.stdout
    assert result.returncode == 1, report + result.stderr

    def said_on(line: int) -> str:
        # By file name: a rerun with an unchanged snippet replays mypy's cached messages,
        # which name the directory of the run that cached them.
        return "\n".join(message for message in report.splitlines() if f"caller.py:{line}:" in message)

    assert 'Unexpected keyword argument "colection" for "ask"' in said_on(5), report
    assert 'Argument "k" to "search" has incompatible type "str"; expected "int"' in said_on(6), report
    assert '"mode" to "search" has incompatible type "Literal[\'fuzzy\']"' in said_on(7), report
    assert 'expression has type "str", variable has type "int"' in said_on(8), report
    assert 'Argument "candidates" to "SearchOptions" has incompatible type "str"' in said_on(9), report
    # What correct calls give: QuerySet methods keep the chunk QuerySet, top() a list of chunks.
    assert 'Revealed type is "django_rag.querysets.ChunkQuerySet"' in said_on(10), report
    assert 'list[django_rag.models.Chunk]"' in said_on(11), report
    assert 'list[django_rag.generation.answers.Source]"' in said_on(12), report
    # Nothing in the package itself: every message is about the caller.
    assert all("caller.py:" in line for line in report.splitlines()[:-1]), report


def test_type_checkers_see_the_functions_the_stand_ins_call():
    # What the TYPE_CHECKING block imports (the real functions, for mypy, IDEs and the API
    # reference) must be what each stand-in imports at run time.
    tree = ast.parse(Path(django_rag.__file__).read_text())
    seen = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    for alias in statement.names:
                        seen[alias.name] = "django_rag." + statement.module
    assert seen == django_rag.PUBLIC_FUNCTIONS
    assert sorted(django_rag.__all__) == sorted(["__version__", *django_rag.PUBLIC_FUNCTIONS])


@pytest.mark.parametrize("name", sorted(django_rag.PUBLIC_FUNCTIONS))
def test_a_stand_in_calls_the_real_function_and_then_looks_like_it(name, monkeypatch):
    module = importlib.import_module(django_rag.PUBLIC_FUNCTIONS[name])
    calls = []

    def real(first, *, option=None):
        """The real one."""
        calls.append((first, option))
        return "answered"

    async def real_async(first, *, option=None):
        """The real one."""
        return real(first, option=option)

    monkeypatch.setattr(module, name, real_async if name == "aask" else real)
    stand_in = django_rag._imported_on_first_call(django_rag.PUBLIC_FUNCTIONS[name], name)
    assert inspect.iscoroutinefunction(stand_in) == (name == "aask")
    result = stand_in("x", option=2)
    if name == "aask":
        result = asyncio.run(result)
    assert (result, calls) == ("answered", [("x", 2)])
    assert str(inspect.signature(stand_in)) == "(first, *, option=None)"
    assert stand_in.__doc__ == "The real one."


def test_importing_the_package_imports_none_of_its_modules():
    # So "from django_rag import ask" works in a models.py, before the apps are loaded.
    code = "import sys, django_rag; from django_rag import ask; print(sorted(m for m in sys.modules if m.startswith('django_rag')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_DIR).stdout
    assert out.strip() == "['django_rag']"
