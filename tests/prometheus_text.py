"""A strict parser of the Prometheus text exposition format 0.0.4, for tests.

Written from the format's description ("Exposition formats", prometheus.io/docs/instrumenting/
exposition_formats/): ``# HELP name text`` and ``# TYPE name type`` lines, then samples
``name{label="value",...} value``; label values escape backslash, double quote and line feed,
help texts backslash and line feed. Anything else is an error naming the line.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_HELP = re.compile(rf"# HELP ({_NAME}) (.*)")
_TYPE = re.compile(rf"# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)")
_SAMPLE = re.compile(rf"({_NAME})(?:\{{(.*)\}})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_VALUE = re.compile(r"[+-]?(?:Inf|NaN|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)")
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


@dataclass
class Family:
    """A parsed family."""

    name: str
    kind: str = "untyped"
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def value(self, name: str | None = None, **labels: str) -> float:
        """The value of the one sample named ``name`` (default: the family) with ``labels``
        (0 if there is none: a series not made yet)."""
        wanted = name or self.name
        found = [v for n, lab, v in self.samples if n == wanted and lab == labels]
        assert len(found) <= 1, (wanted, labels)
        return found[0] if found else 0.0


class ParseError(AssertionError):
    """The text is not valid exposition."""


def _unescape(text: str, label: bool) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "n":
                out.append("\n")
            elif nxt == "\\" or (label and nxt == '"'):
                out.append(nxt)
            else:
                out.append("\\" + nxt)  # help texts keep other backslashes as they are
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(text: str, lineno: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if m is None:
            raise ParseError(f"line {lineno}: bad labels {text!r}")
        name, value = m.group(1), _unescape(m.group(2), label=True)
        if name in labels:
            raise ParseError(f"line {lineno}: label {name} twice")
        labels[name] = value
        pos = m.end()
    return labels


def parse(text: str) -> dict[str, Family]:
    """Parse an exposition strictly; return its families by name."""
    if not text.endswith("\n"):
        raise ParseError("the exposition must end with a line feed")
    families: dict[str, Family] = {}
    current: Family | None = None
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if m := _HELP.fullmatch(line):
            name = m.group(1)
            if name in families:
                raise ParseError(f"line {lineno}: family {name} described twice")
            current = families[name] = Family(name, help=_unescape(m.group(2), label=False))
        elif m := _TYPE.fullmatch(line):
            if current is None or current.name != m.group(1) or current.samples:
                raise ParseError(f"line {lineno}: TYPE must follow the HELP of its family")
            current.kind = m.group(2)
        elif line.startswith("#") or not line:
            raise ParseError(f"line {lineno}: unexpected line {line!r}")
        elif m := _SAMPLE.fullmatch(line):
            name, raw_labels, raw_value = m.groups()
            if current is None:
                raise ParseError(f"line {lineno}: sample before any family")
            suffixes = _SUFFIXES.get(current.kind, ("",))
            if not any(name == current.name + s for s in suffixes):
                raise ParseError(f"line {lineno}: {name} is not of family {current.name}")
            if not _VALUE.fullmatch(raw_value):
                raise ParseError(f"line {lineno}: bad value {raw_value!r}")
            labels = _labels(raw_labels or "", lineno)
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                raise ParseError(f"line {lineno}: series {key} twice")
            seen.add(key)
            current.samples.append((name, labels, float(raw_value)))
        else:
            raise ParseError(f"line {lineno}: not a sample: {line!r}")
    return families


def check_histograms(families: dict[str, Family]) -> int:
    """Check every histogram: per series, buckets in increasing ``le`` with non-decreasing
    (cumulative) counts ending with ``+Inf`` equal to ``_count``, and a ``_sum`` that is not
    negative when the observations cannot be (all ours). Return how many series were checked."""
    checked = 0
    for fam in families.values():
        if fam.kind != "histogram":
            continue
        series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        for name, labels, value in fam.samples:
            if name.endswith("_bucket"):
                rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                series.setdefault(rest, []).append((float(labels["le"]), value))
        for rest, buckets in series.items():
            bounds = [b for b, _ in buckets]
            assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), (fam.name, rest)
            assert math.isinf(bounds[-1]), f"{fam.name}{rest}: no +Inf bucket"
            counts = [c for _, c in buckets]
            assert all(a <= b for a, b in itertools.pairwise(counts)), (fam.name, rest)
            labels = dict(rest)
            assert fam.value(f"{fam.name}_count", **labels) == counts[-1], (fam.name, rest)
            total = fam.value(f"{fam.name}_sum", **labels)
            assert total >= 0 and (counts[-1] > 0 or total == 0), (fam.name, rest)
            checked += 1
    return checked
