"""docs/quickstart.md, followed from nothing: a new Django project, the page's own blocks.

test_examples.py runs each block of the page against the test project; this test follows
the section "In your own Django site" the way a reader does, in a project made by
``django-admin startproject``, each command in a process of its own, on the embedded
PostgreSQL that step 2 configures (a data directory of its own, not the test server).
It ends with the page's template on a page of that site answering with a citation.

The optional block that configures OpenAI is left out (it needs a key and the network):
the reader who skips it gets the offline defaults, and so does this test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.examples import DOCS, REPO, Example, page_examples, shell_commands
from tests.docs.setups import LEAVE, REMOTE

PAGE = DOCS / "quickstart.md"
SECTION = "## In your own Django site"


def section_examples() -> list[Example]:
    text = PAGE.read_text()
    first_line = text[: text.index(SECTION)].count("\n") + 1
    return [example for example in page_examples(PAGE) if example.line > first_line]


def the_template() -> str:
    text = PAGE.read_text()
    blocks = re.findall(r"^[ \t]*```django\n(.*?)^[ \t]*```", text[text.index(SECTION):], re.M | re.S)
    assert len(blocks) == 1, "the section shows one template"
    return "\n".join(line.strip() for line in blocks[0].splitlines()) + "\n"


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, f"{' '.join(command)}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed.stdout


@pytest.mark.slow
def test_a_new_django_project_answers_after_the_quickstart(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    env.pop("OPENAI_API_KEY", None)
    # This checkout's django_rag, which the environment has installed (in CI, this very one).
    env["PYTHONPATH"] = str(REPO)
    examples = section_examples()
    run([sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)], tmp_path, env)
    settings_file = tmp_path / "mysite" / "settings.py"
    urls_file = tmp_path / "mysite" / "urls.py"

    # Steps 2 to 4: the settings and the URLs, as the page writes them ("..." is what the
    # new project already has).
    settings_blocks = [e for e in examples if e.is_settings and "DJANGO_RAG" not in e.body]
    assert len(settings_blocks) == 2, [e.id for e in settings_blocks]
    with settings_file.open("a") as settings:
        for example in settings_blocks:
            settings.write("\n" + example.body.replace("[...,", "[*INSTALLED_APPS,"))
    (urls_block,) = [e for e in examples if e.kind == "python" and "urlpatterns" in e.body]
    with urls_file.open("a") as urls:
        urls.write("\n" + urls_block.body.replace("...,", "*urlpatterns,"))

    # Step 5 ingests handbook/, which the reader has.
    (tmp_path / "handbook").mkdir()
    (tmp_path / "handbook" / "leave.md").write_text(LEAVE)
    (tmp_path / "handbook" / "remote.txt").write_text(REMOTE)

    # Steps 5 and 6: every shell command of the section, in the project ("pip install" is
    # done already: the test runs in an environment that has the package).
    outputs = []
    for example in (e for e in examples if e.kind == "shell"):
        for words, _line in shell_commands(example.body):
            if words[0] == "pip":
                continue
            assert words[:2] == ["python", "manage.py"], f"{example.id}: {words}"
            outputs.append(run([sys.executable, *words[1:]], tmp_path, env))
    assert [w[2] for e in examples if e.kind == "shell" for w, _ in shell_commands(e.body) if w[0] != "pip"] == [
        "migrate", "rag_ingest", "rag_ask",
    ]
    assert "20 days" in outputs[-1], outputs[-1]

    # Step 6, on a page: the page's template, served by a view of the site. Where the
    # template lives and which URL shows it is the site's business; here, an app's
    # templates/ directory.
    (tmp_path / "mysite" / "templates").mkdir()
    (tmp_path / "mysite" / "templates" / "ask.html").write_text(the_template())
    with settings_file.open("a") as settings:
        settings.write('\nINSTALLED_APPS = [*INSTALLED_APPS, "mysite"]\n')
    with urls_file.open("a") as urls:
        urls.write(
            "\nfrom django.views.generic import TemplateView\n"
            'urlpatterns.append(path("ask/", TemplateView.as_view(template_name="ask.html")))\n'
        )
    page = run([sys.executable, "manage.py", "shell", "-c", (
        "from django.test import Client; "
        "response = Client(HTTP_HOST='localhost').get('/ask/', {'q': 'How many days of parental leave do we get?'}); "
        "print('status', response.status_code); print(response.content.decode())"
    )], tmp_path, env)
    # The shell may say first which objects it imported for you.
    _, _, reply = page.partition("status ")
    status, _, html = reply.partition("\n")
    assert status == "200", page[-3000:]
    assert "20 days" in html and 'class="rag-citation"' in html, html[-3000:]
    # The citation links to the document through django-rag's view (step 4's URLs).
    assert re.search(r'href="/rag/documents/\d+/file"', html), html[-3000:]
