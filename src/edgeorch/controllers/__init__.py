"""Controllers: close the gap between desired and actual state.

Each controller is a pure decision over a snapshot (``reconcile.py``, ``nodes.py``) that returns
a :class:`Plan`; only a planner writes (``planner.py``: one transaction, compare-and-swap, retry
on a fresh snapshot). ``ControllerManager`` runs them as threads; ``edgeorch server`` runs it in a
child process (``process.py``) and the node lifecycle (``NodeLifecycle``) in its own process.
Timings and their defaults are in ``settings.py`` and ``docs/controllers.md``.
"""

from edgeorch.controllers.manager import ControllerManager
from edgeorch.controllers.plan import Plan
from edgeorch.controllers.planner import PlanConflict, RecordingPlanner, StorePlanner
from edgeorch.controllers.reconcile import Buckets, NodeView, reconcile_workload
from edgeorch.controllers.settings import ControllerSettings, controllers_enabled

__all__ = [
    "Buckets",
    "ControllerManager",
    "ControllerSettings",
    "NodeView",
    "Plan",
    "PlanConflict",
    "RecordingPlanner",
    "StorePlanner",
    "controllers_enabled",
    "reconcile_workload",
]
