"""GCP export nested fields: flattening the BigQuery-style columns, and the labels and credits
held as JSON (or Python-literal) lists, parsed as polars expressions (private to ``_gcp``)."""

from __future__ import annotations

import ast
import json
import re
from decimal import Decimal
from typing import NoReturn

import polars as pl

from costmodels.billing._common import (
    MONEY_EXACT,
    ROW,
    Cols,
    is_stringy,
)

_JSON_STR = r'"((?:[^"\\]|\\.)*)"'


def _flatten(raw: pl.LazyFrame, schema: dict[str, pl.DataType]) -> tuple[pl.LazyFrame,
                                                                          dict[str, pl.DataType]]:
    """Structs -> dotted columns (``service`` -> ``service.id``, ``service.description``)."""
    exprs: list[pl.Expr] = []
    flat: dict[str, pl.DataType] = {}

    def walk(name: str, expr: pl.Expr, dtype: pl.DataType) -> None:
        if isinstance(dtype, pl.Struct):
            for fld in dtype.fields:
                walk(f"{name}.{fld.name}", expr.struct.field(fld.name), fld.dtype)
        else:
            exprs.append(expr.alias(name))
            flat[name] = dtype

    for name, dtype in schema.items():
        # a JSON ``labels`` object is a struct of label keys, not a record to flatten
        if name in ("labels", "system_labels", "project.labels") or name == ROW:
            exprs.append(pl.col(name))
            flat[name] = dtype
        elif name == "project" and isinstance(dtype, pl.Struct):
            for fld in dtype.fields:
                sub = f"project.{fld.name}"
                exprs.append(pl.col(name).struct.field(fld.name).alias(sub))
                flat[sub] = fld.dtype
        else:
            walk(name, pl.col(name), dtype)
    return raw.select(exprs), flat


def _escape(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.replace_all("\\", "\\\\", literal=True) \
        .str.replace_all('"', '\\"', literal=True)


_KV = pl.Struct({"k": pl.String, "v": pl.String})
_CREDIT = pl.Struct({"amount": pl.String, "type": pl.String, "name": pl.String})


def _key_values(cols: Cols, name: str) -> pl.Expr:
    """A repeated ``{key, value}`` record or JSON object -> list of ``{k, v}`` (JSON-escaped)."""
    if not cols.has(name):
        return pl.lit(None, pl.List(_KV))
    dtype = cols.schema[name]
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        fields = {f.name for f in dtype.inner.fields}
        if not {"key", "value"} <= fields:
            return pl.lit(None, pl.List(_KV))
        return pl.col(name).list.eval(pl.struct(
            _escape(pl.element().struct.field("key")).alias("k"),
            _escape(pl.element().struct.field("value")).alias("v")))
    if isinstance(dtype, pl.Struct):
        pairs = [pl.when(pl.col(name).struct.field(f.name).is_not_null()).then(pl.struct(
            pl.lit(f.name.replace("\\", "\\\\").replace('"', '\\"')).alias("k"),
            _escape(pl.col(name).struct.field(f.name)).alias("v"))) for f in dtype.fields]
        if not pairs:
            return pl.lit(None, pl.List(_KV))
        return pl.concat_list(pairs).list.drop_nulls()
    if not is_stringy(dtype):
        return pl.lit(None, pl.List(_KV))
    text = pl.col(name).cast(pl.String).str.strip_chars()
    record = r'\{[^{}]*\}'
    as_list = text.str.extract_all(record).list.eval(pl.struct(
        pl.element().str.extract(r'"key"\s*:\s*' + _JSON_STR, 1).alias("k"),
        pl.element().str.extract(r'"value"\s*:\s*' + _JSON_STR, 1).alias("v")))
    pair = _JSON_STR + r'\s*:\s*' + _JSON_STR
    as_object = text.str.extract_all(pair).list.eval(pl.struct(
        pl.element().str.extract("^" + pair, 1).alias("k"),
        pl.element().str.extract("^" + pair, 2).alias("v")))
    return pl.when(text.str.starts_with("[")).then(as_list) \
        .when(text.str.starts_with("{")).then(as_object)


def _bad_key_values(cols: Cols, name: str) -> pl.Expr:
    """True where a JSON-text label column is neither a JSON list nor a JSON object."""
    if not cols.has(name) or not is_stringy(cols.schema[name]):
        return pl.lit(False)
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return text.is_not_null() & (text != "") & ~text.str.contains(r"(?s)^(\[.*\]|\{.*\})$")


CREDITS_PARSED = "_gcp_credits"
"""Internal column: the ``credits`` of each row parsed once, ``{items, error}``."""

MAX_CREDITS_CHARS = 65_536
"""Longest ``credits`` text that is parsed (one credit is about 150 characters)."""

MAX_CREDIT_AMOUNT = Decimal(10) ** 18
"""Largest credit amount (absolute) that is read; the exact money type holds 26 digits."""

CREDIT_ERRORS: dict[str, str] = {
    "too_long": f"credits is longer than {MAX_CREDITS_CHARS:,} characters; not parsed",
    "expression": "credits holds an expression (a name, call, operator or comprehension), not "
                  "a list of credits; refused, never evaluated",
    "not_list": "credits is not a list of credit records ([{\"name\": ..., \"amount\": -0.5, "
                "\"type\": ...}] as JSON, or the same as a Python literal) with plain values",
    "bad_amount": "credits has a credit without a numeric amount",
}
"""Why a ``credits`` value is refused, by error kind (each rejects its row)."""

_PARSED = pl.Struct({"items": pl.List(_CREDIT), "error": pl.String})
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_LITERAL_NODES = (ast.Expression, ast.List, ast.Tuple, ast.Dict, ast.Constant, ast.UnaryOp,
                  ast.USub, ast.UAdd, ast.Load)
"""The only syntax a Python-literal ``credits`` may hold; anything else is refused unevaluated."""

_Credit = dict[str, str | None]
_Scalar = str | bool | None


class _Refused(Exception):
    """A ``credits`` value that is not a list of credits; ``kind`` keys :data:`CREDIT_ERRORS`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number")


def _literal_scalar(node: ast.expr, lines: list[bytes]) -> _Scalar:
    """A literal field value: a string, a signed number (as its source text), bool or None.

    ``lines`` are the literal's UTF-8 lines (the parser's offsets count bytes)."""
    if isinstance(node, ast.UnaryOp):
        operand = node.operand
        if not (isinstance(operand, ast.Constant) and type(operand.value) in (int, float)):
            raise _Refused("not_list")
        number = _literal_scalar(operand, lines)
        return f"-{number}" if isinstance(node.op, ast.USub) else number
    if not isinstance(node, ast.Constant):
        raise _Refused("not_list")
    value = node.value
    if value is None or isinstance(value, (str, bool)):
        return value
    if type(value) in (int, float):
        source = ""
        if node.lineno == node.end_lineno and node.end_col_offset is not None:
            source = lines[node.lineno - 1][node.col_offset:node.end_col_offset] \
                .decode(errors="replace")
        return source if _NUMBER.fullmatch(source) else repr(value)
    raise _Refused("not_list")  # bytes, complex, Ellipsis


def _python_literal(text: str) -> list[dict[str, _Scalar]]:
    """Parse (never evaluate) a Python-literal list of dicts of plain values, as koku-nise and
    ``str(list_of_dicts)`` write it."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Refused("not_list") from None
    if any(not isinstance(node, _LITERAL_NODES) for node in ast.walk(tree)):
        raise _Refused("expression")
    if not isinstance(tree.body, ast.List):
        raise _Refused("not_list")
    lines = text.encode().splitlines(keepends=True)
    records = []
    for element in tree.body.elts:
        if not isinstance(element, ast.Dict):
            raise _Refused("not_list")
        record: dict[str, _Scalar] = {}
        for key, value in zip(element.keys, element.values):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise _Refused("not_list")
            record[key.value] = _literal_scalar(value, lines)
        records.append(record)
    return records


def _json_list(text: str) -> object:
    """JSON with every number kept as its text (exact money)."""
    return json.loads(text, parse_float=str, parse_int=str, parse_constant=_refuse_constant)


def _amount(value: object) -> str:
    """A credit amount as exact number text, or :class:`_Refused` ``bad_amount``."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or not _NUMBER.fullmatch(text) or \
            abs(Decimal(text)) >= MAX_CREDIT_AMOUNT:
        raise _Refused("bad_amount")
    return text


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _records(value: object) -> list[_Credit]:
    """Check a parsed value is a list of credit records and keep amount, type and name."""
    if not isinstance(value, list):
        raise _Refused("not_list")
    items: list[_Credit] = []
    bad_amount = False
    for record in value:
        if not isinstance(record, dict) or not all(
                isinstance(k, str) and (v is None or isinstance(v, (str, bool)))
                for k, v in record.items()):
            raise _Refused("not_list")
        try:
            amount: str | None = _amount(record.get("amount"))
        except _Refused:
            bad_amount, amount = True, None
        full_name = _field(record.get("full_name"))
        items.append({"amount": amount, "type": _field(record.get("type")),
                      "name": full_name if full_name else _field(record.get("name"))})
    if bad_amount:
        raise _Refused("bad_amount")
    return items


def parse_credits(text: str | None) -> tuple[list[_Credit] | None, str | None]:
    """Parse one ``credits`` cell: ``(credits, None)`` or ``(None, error kind)``.

    The cell is a JSON list of credit records (BigQuery's CSV export) or the same list as a
    Python literal (``[{'name': 'FreeTrial', 'amount': -0.5, ...}]``, as koku-nise writes it).
    A literal is parsed with :func:`ast.parse` and checked node by node to be a list of dicts
    of strings, numbers, booleans and None; nothing is ever evaluated, and text longer than
    :data:`MAX_CREDITS_CHARS` is not parsed at all.  Amounts are kept as their exact text.
    """
    if text is None:
        return None, None
    text = text.strip()
    if not text:
        return [], None
    if len(text) > MAX_CREDITS_CHARS:
        return None, "too_long"
    try:
        try:
            value: object = _json_list(text)
        except (ValueError, RecursionError):
            value = _python_literal(text)
        return _records(value), None
    except _Refused as refused:
        return None, refused.kind


def _parse_batch(texts: pl.Series) -> pl.Series:
    """:func:`parse_credits` over a batch of cells, each distinct text parsed once."""
    unique = texts.unique()
    parsed = [parse_credits(t) for t in unique.to_list()]
    table = pl.DataFrame({
        "text": unique,
        "parsed": pl.Series([{"items": items, "error": error} for items, error in parsed],
                            dtype=_PARSED),
    })
    joined = texts.to_frame("text").join(table, on="text", how="left", nulls_equal=True,
                                         maintain_order="left")
    return joined["parsed"].alias(texts.name)


# The plain shape of nearly every real cell, JSON or Python literal: a list of flat records whose
# strings hold no quote, backslash, brace or bracket.  Such a cell is read with these patterns
# (vectorised); any other cell goes to :func:`parse_credits`.
_PLAIN_STR = r"""(?:"[^"'\\{}\[\]]*"|'[^"'\\{}\[\]]*')"""
_PLAIN_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PLAIN_SCALAR = f"(?:{_PLAIN_STR}|{_PLAIN_NUMBER}|True|False|None|true|false|null)"
_PLAIN_PAIR = rf"{_PLAIN_STR}\s*:\s*{_PLAIN_SCALAR}"
_PLAIN_RECORD = rf"\{{\s*(?:{_PLAIN_PAIR}(?:\s*,\s*{_PLAIN_PAIR})*)?\s*\}}"
_PLAIN_LIST = rf"^\[\s*(?:{_PLAIN_RECORD}(?:\s*,\s*{_PLAIN_RECORD})*)?\s*\]$"


def _plain_key(key: str) -> str:
    return rf"""["']{key}["']\s*:\s*"""


def _plain_text(record: pl.Expr, key: str) -> pl.Expr:
    """A string field of a plain record (null when absent or not a string)."""
    return record.str.extract(_plain_key(key) + r"""["']([^"']*)["']""", 1)


def _plain_items(text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(credits, error kind, an amount named twice) of a plain cell, without Python."""
    amount_token = _plain_key("amount") + f"({_PLAIN_SCALAR})"
    records = text.str.extract_all(r"\{[^{}]*\}")
    items = records.list.eval(pl.struct(
        pl.element().str.extract(amount_token, 1).str.strip_chars("\"'").str.strip_chars()
        .alias("amount"),
        _plain_text(pl.element(), "type").alias("type"),
        pl.when(_plain_text(pl.element(), "full_name") != "")
        .then(_plain_text(pl.element(), "full_name"))
        .otherwise(_plain_text(pl.element(), "name")).alias("name")))
    amount = pl.element().struct.field("amount")
    bad = items.list.eval(
        amount.is_null() | ~amount.str.contains(f"^{_PLAIN_NUMBER}$")
        | ~(amount.cast(pl.Float64, strict=False).abs() < float(MAX_CREDIT_AMOUNT))
    ).list.any()
    # a record naming its amount twice is left to the full parser (the last one counts there)
    twice = records.list.eval(pl.element().str.count_matches(_plain_key("amount")) > 1) \
        .list.any()
    return items, pl.when(bad).then(pl.lit("bad_amount")), twice


def _parsed_text(text: pl.Expr) -> pl.Expr:
    """Text ``credits``: plain cells read by patterns, the rest by :func:`parse_credits`."""
    items, error, twice = _plain_items(text)
    plain = text.str.contains(_PLAIN_LIST) & (text.str.len_chars() <= MAX_CREDITS_CHARS) & \
        ~twice
    parsed = pl.when(~plain).then(text).map_batches(_parse_batch, return_dtype=_PARSED,
                                                     is_elementwise=True)
    return pl.when(plain).then(pl.struct(items.alias("items"), error.alias("error"))) \
        .otherwise(parsed)


def parsed_credits(cols: Cols) -> pl.Expr:
    """``credits`` -> ``{items: list of {amount, type, name}, error: kind or null}``.

    Add it once to the frame as :data:`CREDITS_PARSED` (see :func:`_parsed_text`); then
    :func:`_credits` reads it.
    """
    name = "credits"
    none = pl.lit(None, pl.List(_CREDIT))
    if not cols.has(name):
        return pl.struct(none.alias("items"), pl.lit(None, pl.String).alias("error"))
    dtype = cols.schema[name]
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        fields = {f.name for f in dtype.inner.fields}

        def field(key: str) -> pl.Expr:
            return (pl.element().struct.field(key).cast(pl.String) if key in fields
                    else pl.lit(None, pl.String))
        full_name = field("full_name")
        items = pl.col(name).list.eval(pl.struct(
            field("amount").alias("amount"), field("type").alias("type"),
            pl.when(full_name != "").then(full_name).otherwise(field("name")).alias("name")))
        bad = items.list.eval(pl.element().struct.field("amount").cast(pl.Float64, strict=False)
                              .is_null()).list.any().fill_null(False)
        error = pl.when(bad).then(pl.lit("bad_amount"))
    elif isinstance(dtype, pl.List):  # List(Null): every row has no credits
        items, error = none, pl.lit(None, pl.String)
    elif is_stringy(dtype):
        return _parsed_text(pl.col(name).cast(pl.String).str.strip_chars())
    else:
        items, error = none, pl.when(pl.col(name).is_not_null()).then(pl.lit("not_list"))
    return pl.struct(items.alias("items"), error.cast(pl.String).alias("error"))


def _credits() -> tuple[pl.Expr, pl.Expr]:
    """(list of ``{amount, type, name}``, error kind) from the :data:`CREDITS_PARSED` column."""
    parsed = pl.col(CREDITS_PARSED)
    return parsed.struct.field("items"), parsed.struct.field("error")


def _credit_sum(items: pl.Expr, types: tuple[str, ...] | None = None, *,
                exact: bool = False) -> pl.Expr:
    amount = pl.element().struct.field("amount")
    amount = amount.cast(MONEY_EXACT, strict=False) if exact else \
        amount.cast(pl.Float64, strict=False)
    if types is not None:
        zero = pl.lit(0, MONEY_EXACT) if exact else pl.lit(0.0)
        amount = pl.when(pl.element().struct.field("type").is_in(list(types))) \
            .then(amount).otherwise(zero)
    total = items.list.eval(amount).list.sum()
    return total.fill_null(pl.lit(0, MONEY_EXACT) if exact else 0.0)


def _get(kv: pl.Expr, keys: tuple[str, ...]) -> pl.Expr:
    return kv.list.eval(pl.element().filter(pl.element().struct.field("k").is_in(list(keys)))
                        .struct.field("v")).list.first()
