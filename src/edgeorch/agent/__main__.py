"""``python -m edgeorch.agent``: the same command as ``edgeorch agent``, without loading the
control plane's modules (FastAPI, SQLAlchemy) that the full CLI imports, so an edge machine pays
only for the agent's memory."""

from edgeorch.cli.commands_agent import main

if __name__ == "__main__":
    main()
