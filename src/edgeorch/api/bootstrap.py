"""First start: migrate the store, make sure the default tenant exists, mint the admin token.

The first admin token is created only when the store has no tokens at all. Its secret is
returned once so the caller can print it, written to ``<data-dir>/admin-token`` (mode 0600) and
to the client config file as a context, and only its hash is stored. ``EDGEORCH_BOOTSTRAP_TOKEN``
supplies the secret instead, for automation.
"""

from dataclasses import dataclass
from pathlib import Path

from edgeorch.clientconfig import Context, write_context, write_private_file
from edgeorch.config import ServerSettings
from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.store import Database, count_tokens, create_token, ensure_default_tenant

MIN_BOOTSTRAP_TOKEN_LENGTH = 32  # what the token store accepts for a given secret


@dataclass(frozen=True)
class BootstrapResult:
    """The admin secret when this start created it (None on later starts)."""

    admin_secret: str | None
    token_file: Path


def prepare_store(database: Database, settings: ServerSettings) -> BootstrapResult:
    """Migrate, ensure the default tenant, and create the first admin token if none exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database.migrate()
    given = settings.bootstrap_token
    if given is not None and not MIN_BOOTSTRAP_TOKEN_LENGTH <= len(given) <= 512:
        raise ValueError(
            f"EDGEORCH_BOOTSTRAP_TOKEN is {len(given)} characters; use "
            f"{MIN_BOOTSTRAP_TOKEN_LENGTH} to 512 printable characters without spaces (for "
            "example from 'openssl rand -base64 32')"
        )
    with database.write() as session:
        ensure_default_tenant(session=session)
        if count_tokens(session=session) > 0:
            return BootstrapResult(admin_secret=None, token_file=settings.admin_token_path)
        created = create_token(
            session=session,
            role=TokenRole.ADMIN,
            name="bootstrap-admin",
            tenant=DEFAULT_TENANT,
            ttl=None,
            secret=given,
        )
    write_private_file(settings.admin_token_path, created.secret + "\n")
    return BootstrapResult(admin_secret=created.secret, token_file=settings.admin_token_path)


def client_url(listen_host: str, port: int) -> str:
    """The URL a local client uses to reach a server listening on ``listen_host:port``."""
    host = listen_host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def save_client_context(server_url: str, secret: str, name: str = "local") -> Path:
    """Write a client context so ``edgeorch`` commands on this machine find the server."""
    return write_context(Context(name=name, server=server_url, token=secret))
