"""Alerts: rules over the store and recorded telemetry, an engine that keeps their states, and
optional webhook delivery of every transition. See ``docs/analytics.md``.

- ``settings``: thresholds, window, interval, webhook (``EDGEORCH_ALERT_*``);
- ``rules``: one pure function per rule, from a snapshot to the alerts that should be firing;
- ``engine``: the controller thread; diffs what should fire with what fires, persists the
  transitions with an Event each, and hands them to the webhook;
- ``webhook``: address checks (no internal targets) and delivery with retries.
"""
