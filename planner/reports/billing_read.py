"""What a billing read says about itself, as text: its reconciliation (rows and money in = out +
rejected), its oddities and the data warnings ``--strict`` counts.

The billing commands print these lines to stderr and the monthly review (every format, and the
dashboard's Cost review) carries them among its notes, so both say the same words.
"""

from __future__ import annotations

from typing import Any

__all__ = ["oddity_line", "read_notes", "reconciliation_line", "warnings_text"]


def reconciliation_line(rec: Any) -> str:
    """Return the reader's reconciliation as one line: rows and money in = out + rejected."""
    from costmodels.billing._common import money_text

    try:
        unknown = rec.amounts_unknown
        money_in = money_text(rec.money_in, unknown, rows=rec.rows_in, spec=",.2f")
        rejected = money_text(rec.money_rejected, unknown, rows=rec.rows_rejected, spec=",.2f")
        why = f": {unknown:,} rejected amount(s) unknown" if unknown else ""
        return (f"rows {rec.rows_in:,} in = {rec.rows_out:,} out + {rec.rows_rejected:,} "
                f"rejected; cost {money_in} in = {rec.money_out:,.2f} out + {rejected} "
                f"rejected ({rec.verdict}{why})")
    except AttributeError:  # a reader without the totals: its own text
        return str(rec)


def read_notes(read: Any) -> list[str]:
    """Return the reader's reconciliation line and oddity count, for stderr and the report."""
    oddities = list(getattr(read, "oddities", None) or [])
    cells = sum(int(getattr(o, "count", 1) or 0) for o in oddities)
    lines = [f"reconciliation: {reconciliation_line(read.reconciliation)}",
             f"oddities: {len(oddities)}" + (f" ({cells:,} cells or columns read anyway; "
                                             "planner billing convert lists them)"
                                             if oddities else "")]
    return lines


def oddity_line(odd: Any) -> str:
    """One oddity: kind, file, column, count, an example and what the reader did."""
    column = f" column {odd.column}" if odd.column else ""
    return (f"oddity {odd.kind}: {odd.source_file}{column}: {odd.count} x, e.g. "
            f"{odd.example!r}: {odd.message}")


def warnings_text(read: Any) -> str | None:
    """Return the data warnings counted by a read (``None`` when there are none)."""
    rec = read.reconciliation
    parts = []
    if rec.rows_rejected:
        unknown = (f", {rec.amounts_unknown:,} with an amount unknown"
                   if rec.amounts_unknown else "")
        parts.append(f"{rec.rows_rejected:,} rejected row(s){unknown}")
    if read.oddities:
        kinds = sorted({o.kind for o in read.oddities})
        parts.append(f"{len(read.oddities):,} oddit{'y' if len(read.oddities) == 1 else 'ies'} "
                     f"({', '.join(kinds)})")
    return "; ".join(parts) or None
