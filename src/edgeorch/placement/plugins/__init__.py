"""Plugin registry: plugin name -> factory, one module per plugin.

Filters run in :data:`FILTER_ORDER` (cheap and selective first, so the per-filter counts in an
explanation read the way an operator reasons). Scores are keyed by the
:class:`~edgeorch.schemas.workload.PlacementWeights` field that weighs them.
"""

from collections.abc import Callable
from typing import TypeVar

from edgeorch.placement.framework import FilterPlugin, ScorePlugin
from edgeorch.placement.plugins import (
    arch,
    capabilities,
    cost,
    edge_type,
    instance_cap,
    latency,
    network_slice,
    proximity,
    regions,
    residency,
    resources,
    spread,
    status,
)

FILTERS: dict[str, Callable[[], FilterPlugin]] = {
    status.NAME: status.factory,
    resources.NAME: resources.factory,
    arch.NAME: arch.factory,
    edge_type.NAME: edge_type.factory,
    capabilities.NAME: capabilities.factory,
    regions.NAME: regions.factory,
    residency.NAME: residency.factory,
    latency.NAME: latency.factory,
    cost.NAME: cost.factory,
    network_slice.NAME: network_slice.factory,
    instance_cap.NAME: instance_cap.factory,
    spread.NAME: spread.factory,
}

SCORES: dict[str, Callable[[], ScorePlugin]] = {
    latency.NAME: latency.score_factory,
    resources.NAME: resources.score_factory,
    cost.NAME: cost.score_factory,
    proximity.NAME: proximity.score_factory,
    spread.NAME: spread.score_factory,
}

_T = TypeVar("_T")

FILTER_ORDER: tuple[str, ...] = tuple(FILTERS)


def default_filters(names: tuple[str, ...] = FILTER_ORDER) -> list[FilterPlugin]:
    """New filter plugins for ``names``, in that order; KeyError names an unknown one."""
    return [_make(FILTERS, n) for n in names]


def default_scores(names: tuple[str, ...] = tuple(SCORES)) -> list[ScorePlugin]:
    """New score plugins for ``names``."""
    return [_make(SCORES, n) for n in names]


def _make(registry: dict[str, Callable[[], _T]], name: str) -> _T:
    if name not in registry:
        raise KeyError(f"unknown placement plugin {name!r}; known: {', '.join(registry)}")
    return registry[name]()
