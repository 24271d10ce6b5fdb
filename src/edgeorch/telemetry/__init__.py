"""Request statistics and utilization history: counted by agents, recorded by the server.

- ``histogram``: the fixed latency buckets every agent uses, merging and percentiles;
- ``model``: :class:`RequestStats`, what a heartbeat carries;
- ``collector``: the agent's per-instance counters, drained into each heartbeat;
- ``recorder``: the server's buffer that turns heartbeats into batched store rows.
"""
