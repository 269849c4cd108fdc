"""Tables that fit the terminal: never a cropped value, columns wrapped into stacked tables.

A rich table wider than its console crops cells ("busy basi", "$0.0" for $0.000366).  Every
terminal table of the planner is printed with :func:`print_fitted` instead: at the terminal's
width (``COLUMNS``, else the terminal, else :data:`DEFAULT_WIDTH` when there is none, as in CI
logs) the columns that fit are printed, then the next columns in a table of their own that
repeats the key columns (the design, the instance...), and so on, so every value is shown whole
whatever the width.  ``wide`` prints one table as wide as its widest cells need (``--wide``).
"""

from __future__ import annotations

import io
import shutil

from rich.cells import cell_len
from rich.console import Console
from rich.table import Column, Table

DEFAULT_WIDTH = 120
"""Columns used when there is no terminal and no ``COLUMNS`` (CI logs, pipes)."""


def terminal_width() -> int:
    """The width to fit: ``COLUMNS``, else the terminal's, else :data:`DEFAULT_WIDTH`."""
    return max(shutil.get_terminal_size((DEFAULT_WIDTH, 40)).columns, 40)


def plain_console(buffer: io.StringIO, width: int | None = None) -> Console:
    """A console that renders plain text (no colour, no markup) into ``buffer``."""
    return Console(file=buffer, width=width or terminal_width(), color_system=None,
                   highlight=False, emoji=False, soft_wrap=False, markup=False)


def column_width(column: Column, unwrapped: bool = False) -> int:
    """The narrowest width that shows every cell of ``column`` whole, padding included: a
    no-wrap column (or any, ``unwrapped``) at its widest line, the others at their longest word
    (or ``min_width``)."""
    cells = [str(column.header), *(str(c) for c in column.cells)]
    if column.no_wrap or unwrapped:
        width = max(cell_len(line) for c in cells for line in c.split("\n"))
    else:
        width = max([column.min_width or 0,
                     *(cell_len(word) for c in cells for word in c.split())])
    return width + 2


def needed_width(columns: list[Column], unwrapped: bool = False) -> int:
    """The narrowest width of a table of ``columns`` (borders included)."""
    return sum(column_width(c, unwrapped) for c in columns) + len(columns) + 1


def _keep_words_whole(table: Table, unwrapped: bool = False) -> None:
    """Give each wrapping column at least its longest word (rich would fold a word, e.g. an
    instance name, when it shares out a tight width), or, ``unwrapped``, its widest line."""
    for column in table.columns:
        if not column.no_wrap:
            column.min_width = column_width(column, unwrapped) - 2


def column_groups(table: Table, width: int, keys: int = 1) -> list[list[int]]:
    """Split the columns after the first ``keys`` into groups that fit ``width`` beside the key
    columns, in order; a column too wide on its own still gets a group (and is not cropped)."""
    key_cols = list(range(min(keys, len(table.columns))))
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(key_cols), len(table.columns)):
        trial = [table.columns[j] for j in (*key_cols, *current, i)]
        if current and needed_width(trial) > width:
            groups.append(current)
            current = []
        current.append(i)
    if current or not groups:
        groups.append(current)
    return [[*key_cols, *g] for g in groups]


def _subtable(table: Table, indexes: list[int], title: str | None) -> Table:
    sub = Table(title=title, title_justify=table.title_justify, box=table.box,
                show_lines=table.show_lines)
    for i in indexes:
        col = table.columns[i]
        sub.add_column(col.header, justify=col.justify, no_wrap=col.no_wrap,
                       min_width=col.min_width, overflow=col.overflow)
    cells = [list(table.columns[i].cells) for i in indexes]
    for row in zip(*cells, strict=True):
        sub.add_row(*row)
    return sub


def print_fitted(console: Console, table: Table, *, width: int | None = None,
                 wide: bool = False, keys: int = 1) -> None:
    """Print ``table`` on ``console`` without cropping any cell.

    Parameters
    ----------
    width : int, optional
        The width to fit (default the console's).
    wide : bool
        One table, as wide as its cells need, whatever the width.
    keys : int
        Leading columns repeated in every stacked table (they name the rows).
    """
    width = width or console.width
    if wide:  # one table, no cell wrapped
        _keep_words_whole(table, unwrapped=True)
        console.width = max(width, needed_width(list(table.columns), unwrapped=True))
        console.print(table)
        console.width = width
        return
    full = needed_width(list(table.columns))
    if full <= width or len(table.columns) <= keys + 1:
        _keep_words_whole(table)
        console.width = max(width, full)
        console.print(table)
        console.width = width
        return
    groups = column_groups(table, width, keys)
    for n, indexes in enumerate(groups):
        title = table.title if n == 0 else None
        if n:
            console.print()
        sub = _subtable(table, indexes, title)
        _keep_words_whole(sub)
        console.width = max(width, needed_width(list(sub.columns)))
        console.print(sub)
    console.width = width
