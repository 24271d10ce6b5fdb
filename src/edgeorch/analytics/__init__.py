"""Analytics over recorded telemetry and the store: performance, costs, predictions, reports.

Each module is a pure-ish function of a read session and an explicit ``now`` (never the wall
clock), returning pydantic models the API serves as they are. See ``docs/analytics.md``.
"""
