# The two commands a newcomer needs:
#   make run    start the example site on embedded defaults (no keys, no Docker)
#   make test   install everything and run the test suite
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= $(shell scripts/find-python 3.11)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install tox bench-ingest clean-db help docs docs-serve docs-screenshots

help:
	@echo "make run     start the example site at http://$(HOST):$(PORT)/"
	@echo "make test    install everything and run the tests"
	@echo "make tox     run the tests on every installed Python x Django"
	@echo "make bench-ingest  ingestion throughput against raw COPY"
	@echo "make docs    build the documentation site into site/"
	@echo "make docs-serve  serve it at http://127.0.0.1:8001/"
	@echo "make docs-screenshots  retake docs/images/ with the browser tests (needs chromium)"

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

run: install
	$(BIN)/python example_project/manage.py migrate --no-input
	$(BIN)/python example_project/manage.py bootstrap_example
	@# A django-q2 worker ingests uploads in the background; it stops with the server.
	$(BIN)/python example_project/manage.py qcluster & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/python example_project/manage.py runserver $(HOST):$(PORT)

tox: install
	PATH="$$(scripts/python-paths)$$PATH" $(BIN)/tox run-parallel --parallel 2 --skip-missing-interpreters true

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve --dev-addr 127.0.0.1:8001

# The browser test that takes the docs' screenshots, writing them into docs/images/.
docs-screenshots: install
	@# Without Chromium the browser tests skip, which would leave the old images in place.
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ echo "make docs-screenshots needs chromium: apt-get install chromium" >&2; exit 1; }
	DJANGO_RAG_DOC_SCREENSHOTS=1 $(BIN)/python -m pytest -m browser tests/surfaces/test_browser.py -k screenshots_for_the_docs $(PYTEST_ARGS)

clean-db:
	rm -rf .pgdata
