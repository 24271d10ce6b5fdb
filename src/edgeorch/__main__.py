"""``python -m edgeorch`` is the ``edgeorch`` command."""

from edgeorch.cli.main import app

app()
