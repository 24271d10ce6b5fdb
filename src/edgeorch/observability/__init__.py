"""Observability: Prometheus metrics of the control plane (see docs/metrics.md)."""
