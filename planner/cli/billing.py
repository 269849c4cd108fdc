"""``planner billing``: convert exports to FOCUS, the monthly cost review, effective rates.

Every billing command reads its inputs with :func:`read_exports`, so they print the same
reconciliation, rejected rows and oddities to stderr and share one table of exit codes:

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      read and reconciled; the output is written (rejected rows and oddities are printed and
       counted, and an amount that could not be read makes the reconciliation INCOMPLETE)
1      an input error (a file missing, unreadable, of unknown format, cut off, with a duplicate
       column name or a row wider than its header; a bad option value), or a reconciliation
       that is NOT BALANCED; nothing is written
2      a usage error (an unknown option, a missing argument)
4      ``--strict`` and the read counted a data warning (a rejected row or an oddity); every
       warning is printed and nothing is written
=====  ==========================================================================================

Code 3 stays the guardrails' (:data:`planner.cli.common.EXIT_BREACH`).
"""

from __future__ import annotations

from typing import Any

import typer

from planner.cli.common import EXIT_DATA_WARNINGS, count_progress, stderr_console
from planner.reports.billing_read import (
    oddity_line,
    read_notes,
    warnings_text,
)

EXIT_CODES_HELP = ("Exit codes: 0 done (warnings printed and counted); 1 input error or "
                   "reconciliation NOT BALANCED, nothing written; 2 usage error; 4 --strict and "
                   "a data warning, nothing written.")

STRICT = typer.Option(False, "--strict", help="Fail with exit code 4, writing nothing, on any "
                      "data warning: a rejected row (bad value, amount unknown, row with fewer "
                      "fields than the header) or an oddity (non-UTF-8 bytes, literal NULL, ...).")

billing_app = typer.Typer(
    help="Billing exports (AWS CUR, GCP billing export, FOCUS): convert, review, rates. "
         + EXIT_CODES_HELP,
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``planner billing ...`` to ``app``; each sub-command module registers itself."""
    from planner.cli import billing_convert, billing_review

    billing_convert.register(billing_app)
    billing_review.register(billing_app)
    app.add_typer(billing_app, name="billing")


def read_exports(inputs: list[str], *, strict: bool, quiet: bool = False,
                 compact: bool = False) -> Any:
    """Read billing exports for a command, print what the read found, enforce the exit codes.

    Prints the reconciliation per file and period, the rejected rows by reason and every oddity
    (unless ``quiet``), then the totals line and the data warnings.  Raises a
    :class:`~costmodels.billing.errors.BillingError` (exit 1 under ``user_errors``) when the
    reconciliation is NOT BALANCED, and exits with :data:`EXIT_DATA_WARNINGS` when ``strict``
    and any warning was counted; either way before the command writes anything.  ``compact``
    (the review and the rates, which need sums, not line items): see
    :func:`costmodels.billing.readers.read_billing`.
    """
    from rich.markup import escape

    from costmodels.billing._common import period_verdict_text
    from costmodels.billing.errors import BillingError
    from costmodels.billing.readers import read_billing

    with count_progress(not quiet, "reading billing files") as progress:
        read = read_billing(inputs, compact=compact, progress=progress)
    console = stderr_console()
    rec = read.reconciliation
    lines = [] if quiet else [*rec.summary_lines(), *map(oddity_line, read.oddities)]
    for line in [*lines, *read_notes(read)]:
        console.print(line, markup=False, soft_wrap=True)
    if not rec.balanced:
        bad = next((p for p in rec.periods if not p.balanced), None)
        where = f": {bad.source_file}: {period_verdict_text(bad)}" if bad is not None else ""
        raise BillingError(f"reconciliation NOT BALANCED{where}; the normalised rows do not "
                           "carry the source's money, so nothing was written; please report it")
    warnings = warnings_text(read)
    if strict and warnings:
        console.print(f"[bold red]error:[/] --strict: {escape(warnings)}; nothing written",
                      soft_wrap=True)
        raise typer.Exit(EXIT_DATA_WARNINGS)
    if warnings:
        console.print(f"data warnings: {warnings} (--strict fails on any)", markup=False,
                      soft_wrap=True)
    return read
