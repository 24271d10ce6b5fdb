"""edgeorch: place, run, heal and move workloads across a fleet of edge nodes.

The package is organised as DESIGN.md describes: ``domain`` (value objects and enums),
``schemas`` (API models), ``store`` (persistence and change feed), ``placement`` (filter,
score, select), ``controllers``, ``api``, ``agent``, ``sim``, ``web`` and ``cli``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
