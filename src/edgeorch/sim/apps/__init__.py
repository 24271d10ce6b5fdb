"""Sample applications ``edgeorch up`` deploys, after the brochure's application templates.

- ``analytics.wat``: *real-time-analytics* as a Wasm HTTP handler (``docs/wasm-abi.md``): counts
  the events (requests) and bytes it received and answers them as JSON.
- ``cdn.py``: *content-delivery* as a process workload: serves a directory over HTTP on ``$PORT``.
"""

from importlib import resources


def analytics_wasm() -> bytes:
    """The real-time-analytics module, compiled from its WAT source."""
    import wasmtime  # heavy; only needed when the sample is deployed

    source = resources.files(__package__).joinpath("analytics.wat").read_text()
    return bytes(wasmtime.wat2wasm(source))
