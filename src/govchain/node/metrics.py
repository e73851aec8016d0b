"""Metrics in the Prometheus text exposition format (version 0.0.4), with no dependency.

A ``Registry`` holds metric *families* — counters, gauges and histograms with fixed buckets,
each optionally labelled — and *collectors*, functions called at scrape time that turn values
the node already keeps (its height, its pending queue) into samples, so that those cost nothing
on the paths that change them. Updating a metric takes one uncontended lock (a few hundred
nanoseconds): the node updates per block or per submitted batch, never per transaction.

Metrics are operational, off-chain and per process; they use floats (seconds, as Prometheus
expects) and the wall clock, and nothing in them reaches the ledger.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Media type of the exposition (Prometheus text format 0.0.4)."""

Kind = Literal["counter", "gauge", "histogram"]
"""A family's type, as its ``# TYPE`` line says."""

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""Upper bounds (seconds) of latency histograms: half a millisecond to half a minute."""

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of the exposition: a sample name, its labels and its value."""

    name: str
    """Sample name (a histogram's carry ``_bucket``, ``_sum`` or ``_count``)."""
    labels: tuple[tuple[str, str], ...]
    """``(label name, value)`` pairs, in the family's label order."""
    value: float
    """The value (integers are written without a decimal point)."""


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A family as scraped: name, type, help text and its samples."""

    name: str
    """Family name (``# HELP`` and ``# TYPE`` lines)."""
    kind: Kind
    """Its type."""
    help: str
    """What it measures, one line."""
    samples: tuple[Sample, ...]
    """Its samples (none is valid: a family with nothing to report yet)."""


Collector = Callable[[], Iterable[MetricFamily]]
"""Called at every scrape: returns families computed from the node's own state."""


class Counter:
    """A value that only goes up (since the process started)."""

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: float = 0

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (``ValueError`` if negative: a counter never goes down)."""
        if amount < 0:
            raise ValueError("a counter can only increase")
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        """The current value."""
        return self._value


class Gauge:
    """A value that goes up and down."""

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: float = 0

    def set(self, value: float) -> None:
        """Set the value."""
        self._value = value

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (negative to subtract)."""
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        """The current value."""
        return self._value


class Histogram:
    """Observations counted in fixed buckets, with their sum and count."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self._lock = threading.Lock()
        self._counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation (in the first bucket whose bound is >= ``value``)."""
        i = bisect.bisect_left(self._bounds, value)
        with self._lock:
            self._counts[i] += 1
            self._sum += value

    def snapshot(self) -> tuple[list[int], float]:
        """Return the cumulative bucket counts (the last one is ``+Inf``, the count) and the
        sum, read together."""
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        running = 0
        for i, c in enumerate(counts):
            running += c
            counts[i] = running
        return counts, total


M = TypeVar("M", Counter, Gauge, Histogram)


class Family(Generic[M]):
    """A named metric and its children, one per combination of label values."""

    def __init__(
        self,
        name: str,
        kind: Kind,
        help: str,
        labelnames: tuple[str, ...],
        make: Callable[[], M],
        buckets: tuple[float, ...] = (),
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.labelnames = labelnames
        self.buckets = buckets
        self._make: Callable[[], M] = make
        self._children: dict[tuple[str, ...], M] = {}
        self._lock = threading.Lock()

    def labels(self, *values: str) -> M:
        """Return the child of these label values (made on first use)."""
        child = self._children.get(values)
        if child is not None:
            return child
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {len(values)}")
        with self._lock:
            return self._children.setdefault(values, self._make())

    def collect(self) -> MetricFamily:
        """Return the family's current samples."""
        with self._lock:
            children = sorted(self._children.items(), key=lambda item: item[0])
        samples: list[Sample] = []
        for values, child in children:
            pairs: tuple[tuple[str, str], ...] = tuple(zip(self.labelnames, values, strict=True))
            if isinstance(child, Histogram):
                counts, total = child.snapshot()
                for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                    le = (*pairs, ("le", format_value(bound)))
                    samples.append(Sample(f"{self.name}_bucket", le, count))
                samples.append(Sample(f"{self.name}_sum", pairs, total))
                samples.append(Sample(f"{self.name}_count", pairs, counts[-1]))
            else:
                samples.append(Sample(self.name, pairs, child.value))
        return MetricFamily(self.name, self.kind, self.help, tuple(samples))


M_Family = TypeVar("M_Family", Family[Counter], Family[Gauge], Family[Histogram])


class Registry:
    """The metric families and collectors of one node (one ``/metrics`` page)."""

    def __init__(self) -> None:
        self._families: dict[str, Family[Counter] | Family[Gauge] | Family[Histogram]] = {}
        self._collectors: dict[str, Collector] = {}
        self._lock = threading.Lock()

    def _add(self, family: M_Family) -> M_Family:
        _check_names(family.name, family.labelnames)
        with self._lock:
            found = self._families.get(family.name)
            if found is None:
                self._families[family.name] = family
                return family
        same = (found.kind, found.labelnames, found.buckets) == (
            family.kind,
            family.labelnames,
            family.buckets,
        )
        if not same:
            raise ValueError(f"metric {family.name} is already registered differently")
        return found  # type: ignore[return-value]  # same name, kind and shape: same type

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Family[Counter]:
        """Return the counter family ``name`` (registered on first call)."""
        return self._add(Family(name, "counter", help, tuple(labelnames), Counter))

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Family[Gauge]:
        """Return the gauge family ``name`` (registered on first call)."""
        return self._add(Family(name, "gauge", help, tuple(labelnames), Gauge))

    def histogram(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Family[Histogram]:
        """Return the histogram family ``name`` with fixed ``buckets`` (upper bounds,
        increasing and finite; ``+Inf`` is added)."""
        bounds = tuple(float(b) for b in buckets)
        if not bounds or any(not math.isfinite(b) for b in bounds):
            raise ValueError("histogram buckets must be finite and at least one")
        if any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError("histogram buckets must increase")
        if "le" in labelnames:
            raise ValueError("'le' is the bucket label of a histogram")
        return self._add(
            Family(name, "histogram", help, tuple(labelnames), lambda: Histogram(bounds), bounds)
        )

    def add_collector(self, key: str, collector: Collector) -> None:
        """Call ``collector`` at every scrape (replacing the one added under ``key``)."""
        with self._lock:
            self._collectors[key] = collector

    def collect(self) -> list[MetricFamily]:
        """Return every family, sorted by name (a name collected twice: ``ValueError``)."""
        with self._lock:
            families = list(self._families.values())
            collectors = list(self._collectors.values())
        out = {f.name: f.collect() for f in families}
        for collector in collectors:
            for fam in collector():
                if fam.name in out:
                    raise ValueError(f"metric {fam.name} is collected twice")
                out[fam.name] = fam
        return [out[name] for name in sorted(out)]

    def expose(self) -> str:
        """Return the exposition text of every family."""
        return expose(self.collect())


def _check_names(name: str, labelnames: Iterable[str]) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid metric name {name!r}")
    for label in labelnames:
        if not _LABEL.fullmatch(label) or label.startswith("__"):
            raise ValueError(f"invalid label name {label!r}")


def family(
    name: str, kind: Kind, help: str, samples: Iterable[tuple[dict[str, str], float]] = ()
) -> MetricFamily:
    """Build a collected family of plain samples (``(labels, value)`` pairs): what a collector
    returns for a counter or a gauge."""
    _check_names(name, ())
    out = []
    for labels, value in samples:
        _check_names(name, labels)
        out.append(Sample(name, tuple(labels.items()), value))
    return MetricFamily(name, kind, help, tuple(out))


def format_value(value: float) -> str:
    """Return a sample value as the text format writes it (``+Inf``, ``NaN``, integers with no
    decimal point)."""
    if isinstance(value, int) or (
        math.isfinite(value) and value == int(value) and abs(value) < 2**53
    ):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def escape_label(value: str) -> str:
    """Escape a label value: backslash, double quote and line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """Escape a help text: backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _lines(families: Iterable[MetricFamily]) -> Iterator[str]:
    for fam in families:
        yield f"# HELP {fam.name} {escape_help(fam.help)}"
        yield f"# TYPE {fam.name} {fam.kind}"
        for s in fam.samples:
            if s.labels:
                inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in s.labels)
                yield f"{s.name}{{{inner}}} {format_value(s.value)}"
            else:
                yield f"{s.name} {format_value(s.value)}"


def expose(families: Iterable[MetricFamily]) -> str:
    """Return the exposition text of ``families`` (one trailing line feed)."""
    return "\n".join(_lines(families)) + "\n"


class RateWindow:
    """Events per second over the last ``seconds`` whole seconds: a ring of per-second counts,
    so a gauge of the current rate needs no scraper and no history."""

    def __init__(self, seconds: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        if seconds < 1:
            raise ValueError("the window is at least one second")
        self.seconds = seconds
        self._clock = clock
        self._stamps = [-1] * (seconds + 1)
        self._counts = [0] * (seconds + 1)
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        """Count ``n`` events now."""
        now = int(self._clock())
        slot = now % len(self._stamps)
        with self._lock:
            if self._stamps[slot] != now:
                self._stamps[slot] = now
                self._counts[slot] = 0
            self._counts[slot] += n

    def rate(self) -> float:
        """Events per second over the last ``seconds`` complete seconds (the current, partial
        second is left out, so the rate does not dip at each second's start)."""
        now = int(self._clock())
        with self._lock:
            total = sum(
                c
                for s, c in zip(self._stamps, self._counts, strict=True)
                if now - self.seconds <= s < now
            )
        return total / self.seconds
