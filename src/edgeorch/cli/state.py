"""What the root command's options leave for the subcommands, and the shared error handling."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer

from edgeorch.cli.client import ApiClient, ClientError, resolve_target
from edgeorch.cli.output import emit_error


@dataclass
class CliState:
    """Global options."""

    server: str | None = None
    token: str | None = None
    context: str | None = None
    config: Path | None = None


def state_of(ctx: typer.Context) -> CliState:
    """The root command's state (a default one when a subcommand runs alone in tests)."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, CliState) else CliState()


@contextmanager
def api_client(ctx: typer.Context) -> Iterator[ApiClient]:
    """A client for the resolved server; client errors become a message and exit code 1."""
    state = state_of(ctx)
    if state.config is not None:
        os.environ["EDGEORCH_CONFIG"] = str(state.config)
    try:
        client = ApiClient(resolve_target(state.server, state.token, state.context))
    except (ClientError, ValueError) as exc:
        emit_error(str(exc))
        raise typer.Exit(1) from exc
    try:
        yield client
    except ClientError as exc:
        emit_error(str(exc), exc.errors)
        raise typer.Exit(1) from exc
    finally:
        client.close()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as an error and exit with ``code``."""
    emit_error(message)
    raise typer.Exit(code)


def read_manifest(file: str) -> tuple[str, str]:
    """The text of a manifest file (``-`` for stdin) and its content type; exits 1 if unreadable."""
    if file == "-":
        return sys.stdin.read(), "application/yaml"
    path = Path(file)
    try:
        text = path.read_text()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    return text, "application/json" if path.suffix == ".json" else "application/yaml"
