"""The plugin framework: extension points and the runner that makes plugins cheap to write.

Extension points (one small interface each):

- :class:`FilterPlugin` ``filter(ctx, rows) -> bool (m,)``: True where the node may host the
  replica; a rejection is counted under the plugin's constant ``reason``.
- :class:`ScorePlugin` ``score(ctx, rows, feasible) -> float64 (m,)`` in [0, 1], higher is
  better. The framework, never the plugin, applies the weight (``PlacementWeights.<name>``).

``rows`` is a ``slice`` over all rows or an int64 array of row numbers; ``m`` is how many rows it
selects. ``dynamic`` plugins depend on booked capacity and are re-run after each reservation:
only on the reserved row, or on all rows when ``global_scope`` (a reservation on one node changes
others' results). ``relative`` scores (normalised over the feasible set) are re-run on all rows
whenever the feasible set changes.
"""

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from edgeorch.placement.context import Context
from edgeorch.placement.latency import FloatArray
from edgeorch.placement.snapshot import BoolArray, IntArray

Rows = slice | IntArray
TIE_EPSILON = 1e-9


class FilterPlugin(ABC):
    """A hard constraint. Subclasses set ``name`` and ``reason`` and implement ``filter``."""

    name: ClassVar[str]
    reason: ClassVar[str]
    dynamic: ClassVar[bool] = False
    global_scope: ClassVar[bool] = False

    def active(self, ctx: Context) -> bool:
        """False when the request does not use this constraint (it then removes nothing)."""
        return True

    @abstractmethod
    def filter(self, ctx: Context, rows: Rows) -> BoolArray:
        """bool (m,): True where the node passes."""

    def hint(self, ctx: Context, rescued: BoolArray) -> str | None:
        """How to make the ``rescued`` rows (bool (n,), failing only this filter) feasible."""
        return None


class ScorePlugin(ABC):
    """A preference. Subclasses set ``name`` (the weight's key) and implement ``score``."""

    name: ClassVar[str]
    dynamic: ClassVar[bool] = False
    global_scope: ClassVar[bool] = False
    relative: ClassVar[bool] = False

    def active(self, ctx: Context) -> bool:
        """False when this term cannot tell nodes apart for the request."""
        return True

    @abstractmethod
    def score(self, ctx: Context, rows: Rows, feasible: BoolArray) -> FloatArray:
        """float64 (m,) in [0, 1]."""


class Evaluation:
    """Filter masks, score terms and totals for one request, kept current across reservations.

    ``masks[name]``: bool (n,) per active filter; ``feasible``: bool (n,) their conjunction with
    liveness; ``terms[name]``: float64 (n,) per weighted score; ``total``: float64 (n,).
    """

    def __init__(
        self, ctx: Context, filters: list[FilterPlugin], scores: list[ScorePlugin]
    ) -> None:
        self.ctx = ctx
        self.n = ctx.snap.size
        self.all: Rows = slice(0, self.n)
        self.filters = [f for f in filters if f.active(ctx)]
        self.reasons = {f.name: f.reason for f in filters}
        self.order = [f.name for f in filters]
        weights = ctx.weight_map
        self.scores = [s for s in scores if weights.get(s.name, 0.0) > 0 and s.active(ctx)]
        self.weights = np.array([weights[s.name] for s in self.scores])
        self.alive: BoolArray = ctx.snap.alive[: self.n].copy()
        self.masks: dict[str, BoolArray] = {}
        self._run_filters()
        self.terms: dict[str, FloatArray] = {}
        self._run_scores()

    def _run_filters(self) -> None:
        static = self.alive.copy()
        for f in (f for f in self.filters if not f.dynamic):
            self.masks[f.name] = f.filter(self.ctx, self.all)
            static &= self.masks[f.name]
        self.ctx.feasible_static = static
        feasible = static.copy()
        for f in (f for f in self.filters if f.dynamic):
            self.masks[f.name] = f.filter(self.ctx, self.all)
            feasible &= self.masks[f.name]
        self.feasible: BoolArray = feasible

    def _run_scores(self) -> None:
        for s in self.scores:
            self.terms[s.name] = s.score(self.ctx, self.all, self.feasible)
        self._total()

    def _total(self) -> None:
        total = np.zeros(self.n)
        for w, s in zip(self.weights, self.scores, strict=True):
            total += w * self.terms[s.name]
        self.total: FloatArray = total

    def filter_counts(self) -> list[tuple[str, str, int, int]]:
        """(name, reason, removed, remaining) per filter in order, on the current state."""
        out: list[tuple[str, str, int, int]] = []
        remaining = self.alive.copy()
        by_name = {f.name: f for f in self.filters}
        for name in self.order:
            f = by_name.get(name)
            if f is None:
                out.append((name, self.reasons[name], 0, int(remaining.sum())))
                continue
            removed = int(np.count_nonzero(remaining & ~self.masks[name]))
            remaining &= self.masks[name]
            out.append((name, f.reason, removed, int(remaining.sum())))
        return out

    def select(self, rng: np.random.Generator) -> int | None:
        """Row of the best feasible node, ties broken by ``rng``; None when none is feasible."""
        masked = np.where(self.feasible, self.total, -np.inf)
        best = int(np.argmax(masked))
        if not self.feasible[best]:
            return None
        ties = np.flatnonzero(masked >= masked[best] - TIE_EPSILON)
        if len(ties) == 1:
            return best
        return int(ties[rng.integers(len(ties))])

    def top(self, k: int) -> IntArray:
        """Rows of the ``k`` best feasible nodes, best first: int64 (<= k,)."""
        idx = np.flatnonzero(self.feasible)
        if len(idx) > k:
            idx = idx[np.argpartition(-self.total[idx], k - 1)[:k]]
        out: IntArray = idx[np.argsort(-self.total[idx], kind="stable")]
        return out

    def after_reserve(self, row: int) -> None:
        """Bring masks, terms and totals up to date after capacity was booked on ``row``."""
        one = np.array([row], np.int64)
        was = bool(self.feasible[row])
        full_filter = False
        for f in (f for f in self.filters if f.dynamic):
            if f.global_scope:
                self.masks[f.name] = f.filter(self.ctx, self.all)
                full_filter = True
            else:
                self.masks[f.name][row] = f.filter(self.ctx, one)[0]
        if full_filter:
            feasible = self.ctx.feasible_static
            assert feasible is not None
            self.feasible = feasible.copy()
            for f in (f for f in self.filters if f.dynamic):
                self.feasible &= self.masks[f.name]
        else:
            self.feasible[row] = self.ctx.feasible_static is not None and bool(
                self.ctx.feasible_static[row]
                and all(self.masks[f.name][row] for f in self.filters if f.dynamic)
            )
        changed = full_filter or was != bool(self.feasible[row])
        self._rescore(row, one, changed)

    def _rescore(self, row: int, one: IntArray, feasible_changed: bool) -> None:
        full = False
        for s in self.scores:
            if s.global_scope or (s.relative and feasible_changed):
                self.terms[s.name] = s.score(self.ctx, self.all, self.feasible)
                full = True
            elif s.dynamic:
                self.terms[s.name][row] = s.score(self.ctx, one, self.feasible)[0]
        if full:
            self._total()
        else:
            self.total[row] = sum(
                w * self.terms[s.name][row] for w, s in zip(self.weights, self.scores, strict=True)
            )

    def blocking(self) -> list[tuple[FilterPlugin, BoolArray]]:
        """Per filter, the rows that fail only it (bool (n,)): relaxing it alone frees them."""
        out: list[tuple[FilterPlugin, BoolArray]] = []
        for f in self.filters:
            others = self.alive.copy()
            for g in self.filters:
                if g is not f:
                    others &= self.masks[g.name]
            rescued = others & ~self.masks[f.name]
            out.append((f, rescued))
        return out


def as_rows(rows: Rows, n: int) -> npt.NDArray[np.int64]:
    """``rows`` as an explicit int64 array of row numbers."""
    if isinstance(rows, slice):
        return np.arange(n, dtype=np.int64)[rows]
    return rows
