"""Helper of ``test_documented_commands``: the "shape" of a command's output (what stays the
same from one run to the next), to compare what a command prints with what the docs show."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

ELISIONS = frozenset({"...", "…"})
"""Words (and output lines) by which the docs leave something out."""
ELIDED = "…"
"""The shape item of a documented output line that stands for any number of lines."""
EXIT_LINE = re.compile(r"^(?:\(exit (\d+)\)|exit=(\d+))$")
"""A line the docs add after a command's output to show its exit status."""
_TABLE_RULE = frozenset("┏┡┗└┌├╭╰┢┣╞╘")
_HEADER_BAR = "┃"
_BODY_BAR = "│"


def output_shape(lines: Iterable[str]) -> list[str]:
    """The shape of a command's output: what stays the same from one run to the next.

    - each table (rich box drawing) is ``table: <its header names>``; its rules and body rows
      are left out (the number of rows depends on the data);
    - a line ``...`` or ``…`` (or one starting with ``…``) in documented output is ``…``: any
      number of lines (see :func:`shape_difference`);
    - an exit-status line the docs add (``(exit 1)``, ``exit=2``) is left out;
    - every other non-blank line is its first word (``transaction``, ``status``, ``error:`` ...):
      values (hashes, heights, times, ports) change from run to run, labels do not.
    """
    shape: list[str] = []
    header: list[str] | None = None
    for raw in lines:
        line = raw.strip()
        if line.startswith(_HEADER_BAR):
            cells = [c.strip() for c in line.strip(_HEADER_BAR).split(_HEADER_BAR)]
            # A header folded over two lines continues each column's name.
            header = (
                cells
                if header is None
                else [f"{a} {b}".strip() for a, b in zip(header, cells, strict=False)]
            )
            continue
        if header is not None:
            shape.append("table: " + " | ".join(header))
            header = None
        if (
            not line
            or line[0] in _TABLE_RULE
            or line.startswith(_BODY_BAR)
            or EXIT_LINE.match(line)
        ):
            continue
        if line in ELISIONS or line.startswith("…"):
            if not shape or shape[-1] != ELIDED:
                shape.append(ELIDED)
            continue
        shape.append(line.split()[0])
    if header is not None:
        shape.append("table: " + " | ".join(header))
    return shape


def _matches(documented: Sequence[str], actual: Sequence[str]) -> bool:
    """Whether ``actual`` has the ``documented`` shape, ``…`` standing for any run of items
    (glob matching, one pass over the documented items)."""
    reached = {0}  # positions in ``actual`` the documented items so far can end at
    for item in documented:
        if item == ELIDED:
            reached = set(range(min(reached), len(actual) + 1)) if reached else set()
        else:
            reached = {i + 1 for i in reached if i < len(actual) and actual[i] == item}
    return len(actual) in reached


def shape_difference(documented: Iterable[str], actual: Iterable[str]) -> str | None:
    """None when the ``actual`` output has the shape of the ``documented`` output (see
    :func:`output_shape`: same first words line by line, same table headers, ``…`` in the docs
    matching any lines); otherwise both shapes side by side."""
    want, got = output_shape(documented), output_shape(actual)
    if _matches(want, got):
        return None
    return f"documented shape {want}\n    actual shape     {got}"


def cut_cells(lines: Iterable[str]) -> list[str]:
    """Table cells of an output that end in ``…``: a value cut to fit the width, data lost
    (output into a pipe must keep every value whole)."""
    cut: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith(_BODY_BAR):
            cut += [
                c.strip() for c in line.strip(_BODY_BAR).split(_BODY_BAR) if c.strip().endswith("…")
            ]
    return cut
