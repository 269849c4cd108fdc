"""Turn pydantic validation errors into the scenario's house-style problem lines.

Every problem a user can cause in a scenario reads ``<field path>: <what is wrong> (got
<value>); <fix>``. The schema's own validators raise :func:`problem` errors that already carry
that text; this module renders them, and translates pydantic's built-in error types (a missing
field, a number out of range, an unknown ``kind``) into the same form, with readable field paths
(``designs[0].fleet.spot.interruptions.band``: list indices kept, discriminator tags dropped).

It knows nothing about the scenario models themselves: :func:`format_errors` walks the error
locations through whatever root model it is given.
"""

from __future__ import annotations

import difflib
import re
import reprlib
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

__all__ = ["PROBLEM_TYPE", "format_errors", "problem", "shorten"]

PROBLEM_TYPE = "scenario_problem"
"""Error type of the schema's own validators; ``ctx["problems"]`` holds their lines."""


def problem(*problems: tuple[str, str]) -> PydanticCustomError:
    """Build a validation error carrying ``(relative field path, text)`` pairs.

    The relative path is appended to pydantic's location of the validator ("" for none; a
    leading ``[`` joins without a dot), and the text follows the house form
    ``<what is wrong> (got <value>); <fix>``.
    """
    summary = "; ".join(f"{field or '<here>'}: {text}" for field, text in problems)
    return PydanticCustomError(PROBLEM_TYPE, "{summary}",
                               {"summary": summary, "problems": problems})


def format_errors(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """Return one ``path: what (got value); fix`` line per problem in ``exc``.

    Parameters
    ----------
    exc : ValidationError
        Raised by ``root.model_validate``.
    root : pydantic model class
        The model validated, whose fields the error locations are followed through.
    """
    return [line for err in exc.errors() for line in _format_error(err, root)]


# ---------------------------------------------------------------------------------------------
# Following an error location through the schema


def _unwrap(annotation: Any, discriminator: str | None = None) -> tuple[Any, str | None]:
    """Strip Annotated and Optional layers, noting a discriminator found on the way."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *meta = get_args(annotation)
            for item in meta:
                if isinstance(item, FieldInfo) and isinstance(item.discriminator, str):
                    discriminator = item.discriminator
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, discriminator
            annotation = members[0]
        else:
            return annotation, discriminator


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    return list(get_args(annotation)) if origin in (Union, types.UnionType) else [annotation]


def _tags(annotation: Any, discriminator: str) -> list[str]:
    tags: list[str] = []
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            tags += list(get_args(member.model_fields[discriminator].annotation))
    return tags


def _walk(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[str, Any, Any, str | None]:
    """Follow ``loc`` through the schema from ``root``.

    Returns the readable path (``designs[0].batching.max_batch``, discriminator tags dropped),
    the annotation reached, the model class holding the last entry, and the discriminator of a
    union reached at the end (or None).
    """
    path = ""
    annotation: Any = root
    parent: Any = None
    discriminator: str | None = None
    for item in loc:
        if discriminator is not None and isinstance(item, str):
            chosen = [m for m in _members(annotation) if item in _tags(m, discriminator)]
            annotation, discriminator = (chosen[0] if chosen else None), None
            continue
        if isinstance(item, int):
            path += f"[{item}]"
            origin = get_origin(annotation)
            if origin in (list, tuple) and get_args(annotation):
                annotation, discriminator = _unwrap(get_args(annotation)[0])
            else:
                annotation = None
            continue
        path += f".{item}" if path else str(item)
        parent = annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and \
                item in annotation.model_fields:
            info = annotation.model_fields[item]
            found = info.discriminator if isinstance(info.discriminator, str) else None
            annotation, discriminator = _unwrap(info.annotation, found)
        else:
            annotation = None
    return path, annotation, parent, discriminator


# ---------------------------------------------------------------------------------------------
# Rendering one error


_REPR = reprlib.Repr()  # a few items per level: never walks a large value whole
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 8, 8, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 78, 78, 40


def shorten(value: Any, limit: int = 80) -> str:
    """Return the repr of ``value`` in at most ``limit`` characters (cut with ``...``).

    A large value (a list an alias expanded to millions of items) is never walked whole:
    :mod:`reprlib` stops after a few items per level, so quoting it in a message is cheap.
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_GOT = re.compile(r"\(got (?P<value>.{81,}?)\)(?=; |$)", re.DOTALL)


def _clip_values(text: str) -> str:
    """Cut each ``(got <value>)`` of a validator's problem text to 80 characters.

    The schema's validators quote the value with ``repr``; a value from an expanded YAML alias
    would make the message as large as the value.
    """
    return _GOT.sub(lambda m: f"(got {m['value'][:77]}...)", text)


def _join(path: str, field: str) -> str:
    if not field:
        return path or "<top level>"
    if not path:
        return field.lstrip(".")
    return path + field if field.startswith("[") else f"{path}.{field}"


def _format_error(err: Mapping[str, Any], root: type[BaseModel]) -> list[str]:
    """Turn one pydantic error dict into ``path: what (got value); fix`` lines."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path, annotation, parent, discriminator = _walk(tuple(err["loc"]), root)
    if kind == PROBLEM_TYPE:
        return [f"{_join(path, field)}: {_clip_values(text)}" for field, text in ctx["problems"]]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", discriminator or "kind")).strip("'")
        tags = ", ".join(repr(t) for t in _tags(annotation, disc)) if annotation else ""
        tags = tags or str(ctx.get("expected_tags", ""))
        if kind == "union_tag_not_found":
            return [f"{_join(path, disc)}: is missing; add {disc}: one of {tags}"]
        return [f"{_join(path, disc)}: unknown {disc} (got {ctx.get('tag')!r}); use one of "
                f"{tags}"]
    if kind == "missing":
        return [f"{path}: is required but missing; add it"]
    if kind == "extra_forbidden":
        allowed = list(parent.model_fields) if isinstance(parent, type) else []
        allowed = [a for a in allowed if a != "source_path"]
        name = path.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [(f"{path}: unknown field (got {name}: {shorten(value)}); {hint}remove it; "
                 f"allowed fields: {', '.join(allowed)}")]
    if kind in _EXPLAIN:
        what, fix = _EXPLAIN[kind]
        safe = {key: _fmt(val) for key, val in ctx.items()}
        return [f"{path}: {what.format(**safe)} (got {shorten(value)}); {fix.format(**safe)}"]
    message = _clip_values(str(err.get("msg", kind)).removeprefix("Value error, "))
    return [(f"{path or '<top level>'}: {message} (got {shorten(value)}); see the scenario "
             "schema in planner/schema.py")]


_NUMBER = ("must be a number", "write a number such as 1.5")
_INTEGER = ("must be a whole number", "write an integer such as 8")
_BOOL = ("must be true or false", "write true or false")
_LIST = ("must be a list", "write a YAML list (lines starting with '- ')")
_MAPPING = ("must be a mapping of fields", "write 'field: value' lines under it")
_EXPLAIN = {  # pydantic error type -> (what is wrong, fix), formatted with the error's ctx
    "greater_than": ("must be > {gt}", "use a value above {gt}"),
    "greater_than_equal": ("must be >= {ge}", "use {ge} or more"),
    "less_than": ("must be < {lt}", "use a value below {lt}"),
    "less_than_equal": ("must be <= {le}", "use {le} or less"),
    "literal_error": ("must be one of {expected}", "use one of {expected}"),
    "too_short": ("needs at least {min_length} item(s)", "add items"),
    "too_long": ("allows at most {max_length} item(s)", "remove items"),
    "string_too_short": ("must not be empty", "write a value"),
    "string_too_long": ("is too long", "use at most {max_length} characters"),
    "int_from_float": ("must be a whole number", "drop the fractional part"),
    "int_parsing": _INTEGER, "int_type": _INTEGER,
    "float_parsing": _NUMBER, "float_type": _NUMBER,
    "finite_number": ("must be a finite number", "write a finite number"),
    "bool_parsing": _BOOL, "bool_type": _BOOL,
    "string_type": ("must be a string", "quote the value"),
    "list_type": _LIST, "tuple_type": _LIST,
    "model_type": _MAPPING, "model_attributes_type": _MAPPING, "dict_type": _MAPPING,
}


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
