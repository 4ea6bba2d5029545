"""Every Python and shell example in docs/*.md runs, against the test database.

How an example is collected and what its markers mean: tests/docs/examples.py. What the
named setups create: tests/docs/setups.py. How each kind of shell command is run:
:class:`Runner` below. docs/development.md ("Examples are tests") says the same for
whoever writes a page.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import inspect
import os
import socket
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from tests.docs import setups
from tests.docs.examples import REPO, Example, all_examples, chain, modules_before, shell_commands

EXAMPLES = all_examples()
# The example's own host names: the runner points them at the test's live server.
EXAMPLE_ORIGIN = "http://127.0.0.1:8000"


def _params():
    for example in EXAMPLES:
        needs_live_server = any("api_server" in e.setups for e in chain(example, EXAMPLES))
        transaction = needs_live_server or any(e.transaction for e in chain(example, EXAMPLES))
        yield pytest.param(example, id=example.id, marks=[pytest.mark.django_db(transaction=transaction)])


def _missing(requirement: str) -> str | None:
    if requirement.startswith("env:"):
        return None if os.environ.get(requirement[4:]) else f"${requirement[4:]} is not set"
    return None if importlib.util.find_spec(requirement) else f"{requirement} is not installed"


@pytest.mark.parametrize("example", list(_params()))
def test_example(example: Example, request, tmp_path, monkeypatch):
    if example.not_run:
        pytest.skip(f"the page says it is not run: {example.not_run}")
    steps = chain(example, EXAMPLES)
    for step in steps:
        for requirement in step.requires:
            if reason := _missing(requirement):
                pytest.skip(f"needs {requirement}: {reason}")
    runner = Runner(request, tmp_path, monkeypatch)
    try:
        runner.write_modules(modules_before(example, EXAMPLES))
        for step in steps:
            runner.run(step)
    finally:
        runner.close()


def test_every_example_is_run_or_says_why_not():
    """An example either runs or gives its reason in the page; the list is not empty."""
    assert len(EXAMPLES) > 40
    for example in EXAMPLES:
        if example.title.lower().startswith("not run"):
            assert example.not_run and len(example.not_run) > 10, f"{example.id}: say why it is not run"


def test_setups_named_by_markers_exist():
    named = {name for example in EXAMPLES for name in example.setups}
    assert named <= set(setups.SETUPS), f"unknown setups: {sorted(named - set(setups.SETUPS))}"
    assert set(setups.SETUPS) <= named, f"setups no page uses: {sorted(set(setups.SETUPS) - named)}"


class Runner:
    """Runs one example's steps in a namespace of their own."""

    def __init__(self, request, tmp_path: Path, monkeypatch):
        self.request = request
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.namespace: dict = {"__name__": "docs_example"}
        self.overrides: list[override_settings] = []
        self.packages: set[str] = set()
        self.modules_dir = tmp_path / "modules"
        self.modules_dir.mkdir()
        self.workdir = tmp_path / "site"
        self.workdir.mkdir()
        monkeypatch.syspath_prepend(str(self.modules_dir))
        monkeypatch.chdir(self.workdir)
        # Settings examples that name OpenAI are checked by building the client (no request
        # is sent); the check wants a key, as it would on a real site.
        if not os.environ.get("OPENAI_API_KEY"):
            monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-example-not-a-real-key")
        # database_settings() in a settings example reads $DATABASE_URL before it starts an
        # embedded server of its own: point it at the test database's server.
        db = connections["default"].settings_dict
        monkeypatch.setenv("DATABASE_URL", "postgresql://{}:{}@/{}?host={}&port={}".format(
            *(quote(str(db[key]), safe="") for key in ("USER", "PASSWORD", "NAME", "HOST", "PORT"))
        ))
        self.done_setups: set[str] = set()

    # -- steps ---------------------------------------------------------------------------

    def run(self, example: Example) -> None:
        for name in example.setups:
            if name not in self.done_setups:
                self.done_setups.add(name)
                self.namespace.update(setups.SETUPS[name](self) or {})
        if example.module:
            importlib.import_module(self.dotted(example.module))
        elif example.is_settings:
            self.run_settings(example)
        elif example.kind == "python":
            self.run_python(example)
        else:
            for words, line in shell_commands(example.body):
                self.run_command(example, words, line)

    def run_python(self, example: Example) -> None:
        code = compile(example.body, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, self.namespace)  # noqa: S307 - the docs' own examples
        if inspect.iscoroutine(result):
            asyncio.run(result)

    # -- module files --------------------------------------------------------------------

    def dotted(self, path: str) -> str:
        return path.removesuffix(".py").replace("/", ".")

    def write_modules(self, examples: list[Example]) -> None:
        for example in examples:
            target = self.modules_dir / example.module
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(example.body)
            # Every directory up to modules_dir is a package.
            directory = target.parent
            while directory != self.modules_dir:
                (directory / "__init__.py").touch(exist_ok=True)
                directory = directory.parent
            self.packages.add(example.module.split("/")[0].removesuffix(".py"))
        importlib.invalidate_caches()

    # -- settings ------------------------------------------------------------------------

    def run_settings(self, example: Example) -> None:
        """Evaluate a settings fragment over the project's settings, apply it, run the checks."""
        tree = ast.parse(example.body)
        assigned = [
            target.id
            for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)
        ]
        assert assigned and all(name.isupper() for name in assigned), f"{example.id}: not a settings fragment"
        namespace = {name: getattr(settings, name) for name in dir(settings) if name.isupper()}
        namespace["BASE_DIR"] = self.tmp_path
        exec(compile(tree, example.id, "exec"), namespace)  # noqa: S102
        values = {name: namespace[name] for name in assigned}
        if "INSTALLED_APPS" in values:
            # `[..., "django_rag"]`: the apps you have, and these; each must be importable.
            for app in values.pop("INSTALLED_APPS"):
                if app is not Ellipsis:
                    assert importlib.util.find_spec(app) is not None, f"{example.id}: app {app!r} does not import"
        if "DATABASES" in values:
            self.apply_databases(example, values.pop("DATABASES"))
        if values:
            override = override_settings(**values)
            override.enable()
            self.overrides.append(override)
        errors = [m for m in checks.run_checks() if m.level >= checks.ERROR]
        assert not errors, f"{example.id}: the system checks fail with these settings:\n" + "\n".join(map(str, errors))

    def apply_databases(self, example: Example, databases: dict) -> None:
        """Connect to each database the fragment describes (the test server stands in for a
        fragment that leaves its address out); give the checks the new aliases."""
        from django.db.utils import ConnectionHandler

        from django_rag.checks import connection_reuse_warnings

        test_db = connections["default"].settings_dict
        new_aliases = {}
        for alias, entry in databases.items():
            entry = dict(entry)
            assert entry.get("ENGINE") == "django.db.backends.postgresql", f"{example.id}: {alias} is not PostgreSQL"
            if "CONN_MAX_AGE" in entry or "pool" in entry.get("OPTIONS", {}):
                # A fragment about keeping connections must not draw W085.
                assert not connection_reuse_warnings(alias, entry), f"{example.id}: {alias} draws W085"
            if "HOST" not in entry or _resolves(entry["HOST"]):
                # NAME, USER... are left to the reader ("# NAME, USER, PASSWORD, HOST, PORT"):
                # the test server's, so the rest of the entry (OPTIONS, a pool) is tried for real.
                for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
                    entry[key] = test_db[key]
                handler = ConnectionHandler({alias: entry})
                try:
                    with handler[alias].cursor() as cursor:
                        cursor.execute("SELECT 1")
                        assert cursor.fetchone() == (1,)
                finally:
                    handler.close_all()
                    # Django keeps pools per alias on the class, for the whole process: a
                    # pool left open here would be the next test's "default" pool.
                    handler[alias].close_pool()
            if alias != "default":
                new_aliases[alias] = {**test_db, **entry}
        # E090 (READ_DATABASE names an alias) reads connections.settings: give it the new aliases.
        self.monkeypatch.setitem(connections.__dict__, "settings", {**connections.settings, **new_aliases})

    # -- shell ---------------------------------------------------------------------------

    def run_command(self, example: Example, words: list[str], line: str) -> None:
        """``python manage.py ...``: call_command with the test settings; ``pip install``:
        the extras named must exist (nothing is installed); ``curl``: sent to the live
        server of the ``api_server`` setup."""
        program = Path(words[0]).name
        if program.startswith("python") and len(words) > 1 and words[1].endswith("manage.py"):
            call_command(*words[2:])
        elif program == "pip" and words[1:2] == ["install"]:
            self.check_pip_install(example, words[2:])
        elif program == "curl":
            self.run_curl(example, line)
        else:
            raise AssertionError(
                f"{example.id}: the runner does not know how to run {words[0]!r}; teach it "
                f"(tests/docs/test_examples.py) or give the block a title \"Not run: <why>\""
            )

    def check_pip_install(self, example: Example, specs: list[str]) -> None:
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        extras = set(project["optional-dependencies"])
        for spec in specs:
            if spec.startswith("-"):
                continue  # pip's own options (--upgrade)
            name, _, rest = spec.partition("[")
            assert name == project["name"], f"{example.id}: installs {name!r}, not {project['name']}"
            for extra in filter(None, rest.rstrip("]").split(",")):
                assert extra in extras, f"{example.id}: django-rag has no extra [{extra}]"

    def run_curl(self, example: Example, line: str) -> None:
        """Through bash, as a reader would type it ($KEY expanded), at the live server."""
        assert "live_server" in self.namespace, f"{example.id}: a curl example needs setup=api_server"
        line = line.replace(EXAMPLE_ORIGIN, self.namespace["live_server"].url)
        assert line.startswith("curl ")
        # An HTTP error fails the example (--fail-with-body); -sS: quiet but for errors; -m: no hang.
        line = "curl -sS --fail-with-body -m 30 " + line.removeprefix("curl ")
        completed = subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, cwd=self.workdir, timeout=60,
            env={**os.environ, "KEY": self.namespace["KEY"]},
        )
        assert completed.returncode == 0, f"{example.id}: {line}\n{completed.stdout}\n{completed.stderr}"
        self.namespace.setdefault("curl_outputs", []).append(completed.stdout)

    # -- cleanup -------------------------------------------------------------------------

    def close(self) -> None:
        for override in reversed(self.overrides):
            override.disable()
        for name in list(sys.modules):
            if name.split(".")[0] in self.packages:
                del sys.modules[name]
        for cleanup in reversed(self.namespace.get("_cleanups", [])):
            cleanup()


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


warnings.filterwarnings("ignore", message="Overriding setting DATABASES")
