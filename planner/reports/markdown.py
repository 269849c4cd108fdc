"""A GitHub-flavoured Markdown report of a :class:`RunResult` (deterministic: no timestamps)."""

from __future__ import annotations

import re

from planner.reports.sections import Block, Bullets, Paragraph, Section, Table, build_report, title
from planner.results import RunResult

_SPECIAL = re.compile(r"([\\`*\[\]|])|(?<!\w)_|_(?!\w)|<(?=[A-Za-z/!?])")
_LEADING = re.compile(r"^(\s*\d*)(>|(?<=\d)[.)](?=\s|$)|(?<!\d)[#+\-=](?=[\s#=\-]|$))")


def escape(text: str) -> str:
    """Return ``text`` with Markdown and inline-HTML characters backslash-escaped.

    Newlines become spaces so that a user string cannot start a new block or table row.
    """
    flat = " ".join(str(text).splitlines())
    flat = _SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    return _LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), flat)


def render_table(table: Table) -> str:
    """Return a GFM pipe table (cells escaped, numbers right-aligned)."""
    rule = {"left": ":---", "right": "---:"}
    lines = ["| " + " | ".join(escape(h) for h in table.headers) + " |",
             "| " + " | ".join(rule.get(a, "---") for a in table.align) + " |"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_block(block: Block) -> str:
    """Return one block as Markdown."""
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Bullets):
        return "\n".join(f"- {escape(item)}" for item in block.items)
    if isinstance(block, Paragraph):
        return escape(block.text)
    raise TypeError(f"unknown block {block!r}")  # pragma: no cover


def render_sections(sections: list[Section]) -> str:
    """Return sections as Markdown, blocks separated by blank lines."""
    parts = []
    for s in sections:
        parts.append("#" * s.level + " " + escape(s.title))
        parts.extend(render_block(b) for b in s.blocks)
    return "\n\n".join(parts)


def render_markdown(result: RunResult) -> str:
    """Return the report of ``result`` as GitHub-flavoured Markdown.

    Sections: scenario, comparison table (one column per design), recommendation, per-design
    details, price sources and dates, discounts, incomplete costs, assumptions, warnings.
    Every number comes from ``result``; unknown values read ``n/a``.
    """
    return "# " + escape(title(result)) + "\n\n" + render_sections(build_report(result)) + "\n"
