"""docs/settings.md lists every key of django_rag.conf.DEFAULTS, with its true default and
the checks that refuse a wrong value of it."""

from __future__ import annotations

import re

import pytest

from django_rag import checks
from django_rag.conf import DEFAULTS, SETTING_RANGES, SETTING_TYPES
from tests.docs.examples import DOCS, REPO

ROW = re.compile(r"^\| `(?P<key>[A-Z_]+)` \| `(?P<default>.*?)` \| (?P<checks>.*?) \| (?P<meaning>.*) \|$", re.M)


def rows() -> dict[str, re.Match]:
    return {match["key"]: match for match in ROW.finditer((DOCS / "settings.md").read_text())}


def listed_ids(cell: str) -> set[str]:
    """`E005-E008` stands for E005, E006, E007 and E008."""
    ids = set()
    for first, last in re.findall(r"([EW]\d{3})(?:-([EW]\d{3}))?", cell):
        if last:
            ids.update(f"{first[0]}{n:03d}" for n in range(int(first[1:]), int(last[1:]) + 1))
        else:
            ids.add(first)
    return ids


def test_every_key_is_listed_once_and_no_other():
    text = (DOCS / "settings.md").read_text()
    table = rows()
    assert set(table) == set(DEFAULTS), (
        f"missing from docs/settings.md: {sorted(set(DEFAULTS) - set(table))}; "
        f"not settings: {sorted(set(table) - set(DEFAULTS))}"
    )
    for key in DEFAULTS:
        assert len(re.findall(rf"^\| `{key}` \|", text, re.M)) == 1, f"{key} has more than one row"


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_the_default_is_the_one_in_conf(key):
    shown = rows()[key]["default"]
    default = DEFAULTS[key]
    if isinstance(default, str) and shown.endswith('..."'):
        # A long text is shown by its beginning.
        assert default.startswith(shown[1:-4]), f"{key}: the page shows {shown}, conf has {default!r}"
        return
    value = eval(shown, {"__builtins__": {}, "True": True, "False": False, "None": None})  # noqa: S307 - our own page
    assert value == default, f"{key}: the page shows {shown}, conf has {default!r}"


def test_the_checks_named_exist_and_are_documented():
    # The backends' own checks (E005-E008, E014, E015) live beside them.
    source = "".join(path.read_text() for path in (REPO / "django_rag").rglob("*.py"))
    documented = (DOCS / "checks.md").read_text()
    for key, row in rows().items():
        ids = listed_ids(row["checks"])
        assert ids, f"{key}: no check named"
        for check_id in ids:
            assert f'"django_rag.{check_id}"' in source, f"{key}: django_rag.{check_id} is no check's id"
            assert f"`django_rag.{check_id}`" in documented, f"{key}: django_rag.{check_id} is not in docs/checks.md"


class _Wrong:
    """A value of no type any setting accepts."""


def _fired(key, value) -> set[str]:
    messages = checks._setting_errors({**DEFAULTS, key: value})
    return {message.id.removeprefix("django_rag.") for message in messages}


@pytest.mark.parametrize("key", sorted(SETTING_TYPES))
def test_a_value_of_the_wrong_type_is_refused_by_a_check_the_page_names(key):
    fired = _fired(key, _Wrong())
    assert fired, f"{key}: nothing refuses a wrong type"
    assert fired <= listed_ids(rows()[key]["checks"]), f"{key}: refused by {sorted(fired)}, the page names others"


@pytest.mark.parametrize("key", sorted(SETTING_RANGES))
def test_a_value_out_of_range_is_refused_by_a_check_the_page_names(key):
    minimum, maximum = SETTING_RANGES[key]
    value = maximum * 2 if maximum is not None else (minimum - 1 if minimum is not None else float("nan"))
    fired = _fired(key, value)
    assert fired, f"{key}: nothing refuses {value!r}"
    assert fired <= listed_ids(rows()[key]["checks"]), f"{key}: refused by {sorted(fired)}, the page names others"
