"""``edgeorch token``: create, list and revoke bearer tokens."""

import re
from typing import Annotated, Any

import typer

from edgeorch.cli.output import OutputFormat, age, console, emit_data, emit_table, short_id
from edgeorch.cli.state import api_client, fail

token_app = typer.Typer(help="Bearer tokens: create, list, revoke.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h`` or ``7d`` in seconds; ValueError names the bad value."""
    match = _DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration; use for example 90s, 15m, 2h or 7d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="admin, operator or reader")] = "reader",
    join: Annotated[bool, typer.Option("--join", help="a join token for one agent")] = False,
    ttl: Annotated[str | None, typer.Option(help="lifetime, e.g. 30m, 24h (join: 1h)")] = None,
    name: Annotated[str, typer.Option(help="a name to recognise it by")] = "",
    tenant: Annotated[str | None, typer.Option(help="tenant (default: yours)")] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """Create a token and print its secret (shown only this once)."""
    try:
        ttl_seconds = parse_duration(ttl) if ttl else None
    except ValueError as exc:
        fail(str(exc), 2)
    body = {
        "role": "join" if join else role,
        "name": name,
        "tenant": tenant,
        "ttl_seconds": ttl_seconds,
    }
    with api_client(ctx) as client:
        created = client.request("POST", "/tokens", json=body)
    if output is not OutputFormat.TABLE:
        emit_data(created, output)
        return
    expiry = f", expires {created['expires_at']}" if created.get("expires_at") else ""
    console.print(f"{created['role']} token {created['id']} created{expiry}. Secret (shown once):")
    typer.echo(created["secret"])


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.TABLE,
) -> None:
    """List tokens (never their secrets)."""
    with api_client(ctx) as client:
        tokens = client.request("GET", "/tokens")
    if output is not OutputFormat.TABLE:
        emit_data(tokens, output)
        return

    def state(t: dict[str, str | None]) -> str:
        return "[red]revoked[/]" if t.get("revoked_at") else "[green]active[/]"

    emit_table(
        tokens,
        [
            ("ID", lambda t: short_id(t["id"])),
            ("NAME", lambda t: t["name"] or "-"),
            ("ROLE", lambda t: t["role"]),
            ("TENANT", lambda t: t["tenant"]),
            ("STATE", state),
            ("EXPIRES", lambda t: t.get("expires_at") or "never"),
            ("AGE", lambda t: age(t["created_at"])),
        ],
        empty="no tokens",
    )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="token ids or names")],
) -> None:
    """Revoke tokens; they stop working at once."""
    with api_client(ctx) as client:
        tokens = client.request("GET", "/tokens")
        for ref in refs:
            token_id = resolve_token(tokens, ref)
            token = client.request("DELETE", f"/tokens/{token_id}")
            console.print(f"token {token['id']} ({token['name'] or 'unnamed'}) revoked")


def resolve_token(tokens: list[dict[str, Any]], ref: str) -> str:
    """The id of the one active token whose id, id prefix (6+) or name is ``ref``."""
    active = [t for t in tokens if not t.get("revoked_at")]
    for match in (
        lambda t: t["id"] == ref,
        lambda t: len(ref) >= 6 and str(t["id"]).startswith(ref),
        lambda t: t["name"] == ref,
    ):
        found = [t for t in active if match(t)]
        if len(found) == 1:
            return str(found[0]["id"])
        if len(found) > 1:
            ids = ", ".join(short_id(t["id"]) for t in found)
            fail(f"{ref!r} matches several tokens ({ids}); use the id")
    fail(f"no active token has the id or name {ref!r}; see 'edgeorch token list'")


def register(app: typer.Typer) -> None:
    """Add the token commands to ``app``."""
    app.add_typer(token_app, name="token")
