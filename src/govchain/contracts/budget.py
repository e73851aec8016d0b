"""The execution budget of a contract call: steps counted by the instrumented code and by state
operations, and the nesting depth. What a call costs depends only on its code and inputs, so an
exhausted budget happens at the same point on every node."""

from __future__ import annotations

MAX_DEPTH = 64
"""Deepest nesting of contract functions (and cross-contract views) in one call."""


class OutOfSteps(BaseException):
    """Internal signal of an exhausted budget: a ``BaseException`` so contract code cannot
    catch it with ``except Exception`` (the static check refuses bare ``except``)."""


class Meter:
    """Counts the steps (function entries, loop iterations, state operations) of one call."""

    __slots__ = ("budget", "depth", "left")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.left = budget
        self.depth = 0

    def step(self) -> bool:
        """Charge one step (called at every loop iteration of contract code)."""
        self.left -= 1
        if self.left < 0:
            raise OutOfSteps
        return True

    def enter(self) -> None:
        """Charge a function entry and check the nesting depth."""
        self.left -= 1
        self.depth += 1
        if self.left < 0 or self.depth > MAX_DEPTH:
            raise OutOfSteps

    def leave(self) -> None:
        """Leave a function."""
        self.depth -= 1

    def charge(self, steps: int) -> None:
        """Charge ``steps`` at once (state operations, ``range``)."""
        self.left -= steps
        if self.left < 0:
            raise OutOfSteps


UNMETERED = 1 << 62
"""Budget of native (trusted, uninstrumented) contracts."""
