"""The client's config file, like a kubeconfig: named contexts of server URL and token.

Location: ``$EDGEORCH_CONFIG``, else ``$XDG_CONFIG_HOME/edgeorch/config.yaml``, else
``~/.config/edgeorch/config.yaml``. The file holds secrets, so it is written mode 0600 and
replaced atomically (write to a temporary file, fsync, rename) so a crash never leaves half a file.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Context:
    """One server and the token to use with it."""

    name: str
    server: str
    token: str | None


def config_path() -> Path:
    """The config file path, honouring ``EDGEORCH_CONFIG`` and ``XDG_CONFIG_HOME``."""
    if env := os.environ.get("EDGEORCH_CONFIG"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edgeorch" / "config.yaml"


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a mapping; delete it or fix it")
    return data


def read_context(name: str | None = None, path: Path | None = None) -> Context | None:
    """The named context, else the current one, else None when there is no config."""
    data = _load(path or config_path())
    contexts = data.get("contexts") or {}
    key = name or data.get("current_context")
    if not key or key not in contexts:
        return None
    entry = contexts[key] or {}
    return Context(name=key, server=str(entry.get("server", "")), token=entry.get("token"))


def write_context(context: Context, *, make_current: bool = True, path: Path | None = None) -> Path:
    """Add or replace a context and (by default) make it current. Returns the file written."""
    target = path or config_path()
    data = _load(target)
    contexts = dict(data.get("contexts") or {})
    contexts[context.name] = {"server": context.server, "token": context.token}
    data["contexts"] = contexts
    if make_current or "current_context" not in data:
        data["current_context"] = context.name
    target.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(target, yaml.safe_dump(data, sort_keys=True))
    return target


def write_private_file(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path`` with mode 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
