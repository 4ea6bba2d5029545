"""The checks every number passes where it enters django-rag.

Each public entry point (the Python API, the search methods, ``ask()``, the template
tags, the commands) runs its numeric arguments through these functions, so that ``k=0``,
``k=2**63``, ``rrf_k=nan`` or ``k="5"`` end in a :class:`ValueError` that names the
argument and the range it accepts, not in a PostgreSQL ``DataError`` (``bigint out of
range``), a ``TypeError`` from a comparison deep inside, or a silently empty result.
The REST API declares the same bounds in its schemas, so ninja answers 422 there.

The checks are a couple of ``isinstance`` tests and comparisons: they run on every
search. ``bool`` is not accepted as a number (``k=True`` is a mistake, not ``1``).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from .conf import get_setting

#: PostgreSQL ``integer``: counts and limits sent as SQL parameters must fit in it.
INT4_MAX = 2**31 - 1
#: PostgreSQL ``bigint``: primary keys.
INT8_MAX = 2**63 - 1


def _setting_note(setting: str | None) -> str:
    return f' (DJANGO_RAG["{setting}"])' if setting else ""


def integer(
    name: str, value: Any, *, minimum: int = 1, maximum: int = INT4_MAX, setting: str | None = None
) -> int:
    """``value`` as an ``int`` from ``minimum`` to ``maximum``, else a ``ValueError`` naming ``name``.

    Accepts ``int`` and other integral numbers (numpy's), never ``bool``, a float or a
    string: convert text with :func:`integer_from_text` first. ``setting`` names the
    setting that sets ``maximum``, for the message.
    """
    if type(value) is int:  # the common case first: one type test
        result = value
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        result = int(value)
    else:
        raise ValueError(
            f"{name} must be an integer from {minimum} to {maximum}{_setting_note(setting)}, not {_shown(value)}."
        )
    if result < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {result}.")
    if result > maximum:
        raise ValueError(f"{name} must be at most {maximum}{_setting_note(setting)}, not {result}.")
    return result


def number(
    name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
) -> float:
    """``value`` as a finite ``float`` within the bounds, else a ``ValueError`` naming ``name``.

    Accepts ``int`` and ``float`` (and other real numbers), never ``bool``, NaN, an
    infinity or a string.
    """
    if type(value) is float or type(value) is int or (
        isinstance(value, numbers.Real) and not isinstance(value, bool)
    ):
        try:
            result = float(value)
        except (OverflowError, ValueError, TypeError):  # an int too large for a float, a strange Real
            result = math.inf
    else:
        raise ValueError(f"{name} must be a number{_range(minimum, maximum)}, not {_shown(value)}.")
    if not math.isfinite(result) or (minimum is not None and result < minimum) or (
        maximum is not None and result > maximum
    ):
        raise ValueError(f"{name} must be a finite number{_range(minimum, maximum)}, not {_shown(value)}.")
    return result


def k_value(value: Any, *, name: str = "k") -> int:
    """A result count: from 1 to ``DJANGO_RAG["MAX_K"]``."""
    return integer(name, value, maximum=get_setting("MAX_K"), setting="MAX_K")


def object_id(name: str, value: Any) -> int:
    """A primary key given as an int: from 1 to PostgreSQL's bigint maximum."""
    return integer(name, value, maximum=INT8_MAX)


def collection_reference(value: Any) -> None:
    """A collection named by its slug (``str``) or primary key (``int``); the ``Collection`` itself is checked by the caller."""
    if isinstance(value, str):
        return
    if type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        return  # ids out of range match nothing: Django answers "not found" without asking PostgreSQL
    raise ValueError(f"collection must be a Collection, its slug or its primary key, not {_shown(value)}.")


def weights(value: Any) -> dict[str, float]:
    """``{"semantic": w, "keyword": w}`` with finite, non-negative weights (either key may be left out)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'weights must be a dict such as {{"semantic": 0.5, "keyword": 1.0}}, not {_shown(value)}.')
    unknown = set(value) - {"semantic", "keyword"}
    if unknown:
        raise ValueError(f"Unknown weight(s) {sorted(unknown, key=repr)}: use 'semantic' and 'keyword'.")
    return {leg: number(f"weights[{leg!r}]", weight, minimum=0) for leg, weight in value.items()}


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")

#: The numeric search and answer options, by the kind of number each takes. Template
#: tags receive them as text (from request.GET) and convert them with :func:`options_from_text`.
INTEGER_OPTIONS = frozenset({"k", "candidates", "postings_per_term"})
NUMBER_OPTIONS = frozenset({"rrf_k", "min_score"})


def integer_from_text(name: str, value: Any) -> Any:
    """``"5"`` as ``5`` (text from a template or a query string); other values unchanged.

    Only plain decimal digits with an optional sign: ``"1e3"``, ``"0x10"``, ``"5.0"`` or
    ``" "`` are refused, with the argument's name.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not _INTEGER_TEXT.fullmatch(text):
        raise ValueError(f"{name} must be a whole number, not {_shown(value)}.")
    return int(text)


def number_from_text(name: str, value: Any) -> Any:
    """``"0.5"`` as ``0.5``; other values unchanged. NaN and infinities are refused."""
    if not isinstance(value, str):
        return value
    try:
        result = float(value.strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, not {_shown(value)}.") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, not {_shown(value)}.")
    return result


def options_from_text(options: dict[str, Any]) -> dict[str, Any]:
    """The numeric options among ``options`` converted from text; the others unchanged.

    An option that is ``None`` (a template variable that is not set, such as
    ``request.GET.k`` without ``?k=``) is left out, so its default applies.
    """
    converted = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in INTEGER_OPTIONS:
            converted[name] = integer_from_text(name, value)
        elif name in NUMBER_OPTIONS:
            converted[name] = number_from_text(name, value)
        else:
            converted[name] = value
    return converted


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f" of at least {minimum:g}"
    if maximum is not None:
        return f" of at most {maximum:g}"
    return ""


def _shown(value: Any) -> str:
    """The value for an error message: short, and with its type when that is the problem."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(value, (bool, str, type(None))) or not isinstance(value, numbers.Number):
        return f"{text} ({type(value).__name__})"
    return text
