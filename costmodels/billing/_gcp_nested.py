"""GCP export nested fields: flattening the BigQuery-style columns, and the labels and credits
held as JSON (or Python-literal) lists, parsed as polars expressions (private to ``_gcp``)."""

from __future__ import annotations

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


def _credits(cols: Cols) -> tuple[pl.Expr, pl.Expr]:
    """``credits`` -> (list of ``{amount, type, name}``, malformed flag)."""
    name = "credits"
    if not cols.has(name):
        return pl.lit(None, pl.List(_CREDIT)), pl.lit(False)
    dtype = cols.schema[name]
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        fields = {f.name for f in dtype.inner.fields}

        def field(key: str) -> pl.Expr:
            return (pl.element().struct.field(key).cast(pl.String) if key in fields
                    else pl.lit(None, pl.String))
        items = pl.col(name).list.eval(pl.struct(
            field("amount").alias("amount"), field("type").alias("type"),
            pl.coalesce(field("full_name"), field("name")).alias("name")))
        bad = items.list.eval(pl.element().struct.field("amount").cast(pl.Float64, strict=False)
                              .is_null()).list.any().fill_null(False)
        return items, bad
    if isinstance(dtype, pl.List):  # List(Null): every row has no credits
        return pl.lit(None, pl.List(_CREDIT)), pl.lit(False)
    if not is_stringy(dtype):
        return pl.lit(None, pl.List(_CREDIT)), pl.col(name).is_not_null()
    text = pl.col(name).cast(pl.String).str.strip_chars()
    number = r'"?(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"?'
    items = text.str.extract_all(r'\{[^{}]*\}').list.eval(pl.struct(
        pl.element().str.extract(r'"amount"\s*:\s*' + number, 1).alias("amount"),
        pl.element().str.extract(r'"type"\s*:\s*' + _JSON_STR, 1).alias("type"),
        pl.coalesce(pl.element().str.extract(r'"full_name"\s*:\s*' + _JSON_STR, 1),
                    pl.element().str.extract(r'"name"\s*:\s*' + _JSON_STR, 1)).alias("name")))
    not_list = text.is_not_null() & (text != "") & ~text.str.contains(r"(?s)^\[.*\]$")
    bad_amount = items.list.eval(pl.element().struct.field("amount").is_null()).list.any()
    return items, not_list | bad_amount.fill_null(False)


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
