"""`modelyard orgs|users|keys|token`: organisations (super admins), users (admins), your API keys and access
tokens. A secret (a new key, a token) is printed once, on standard output alone with `--json` or `--quiet`, so it
can go straight into a file or a variable."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.client.cli_support import print_json, run, stdout
from modelyard.contracts.api.identity import Permission, Role
from modelyard.contracts.plans import Plan

orgs_app = typer.Typer(no_args_is_help=True, help="Organisations and their plans (super admins).")
users_app = typer.Typer(no_args_is_help=True, help="Users of your organisation (admins).")
keys_app = typer.Typer(no_args_is_help=True, help="Your API keys: scoped, expiring, revocable.")

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="print only the secret")]
AsJson = Annotated[bool, typer.Option("--json", help="print the answer as JSON")]


def _secret(value: str, what: str, quiet: bool) -> None:
    out = stdout()
    if quiet:
        out.print(value, soft_wrap=True, markup=False)
    else:
        out.print(f"{what} (shown once, store it now):")
        out.print(value, soft_wrap=True, markup=False)


@orgs_app.command("create")
def create_org(
    name: Annotated[str, typer.Argument(help="the organisation's name")],
    plan: Annotated[Plan, typer.Option(help="its plan")] = Plan.FREE,
    admin_name: Annotated[str, typer.Option(help="the name of its first org_admin")] = "admin",
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """A new organisation and its first org_admin, whose API key is printed once."""
    org = run(lambda api: api.create_org(name, plan, admin_name))
    if as_json:
        print_json(org)
        return
    if not quiet:
        stdout().print(f"organisation {escape(org.name)} {org.id} on the {org.plan.value} plan")
    _secret(org.admin_api_key, f"API key of its org_admin {escape(admin_name)} {org.admin_user_id}", quiet)


@orgs_app.command("list")
def list_orgs(as_json: AsJson = False) -> None:
    """Every organisation."""
    page = run(lambda api: api.list_orgs())
    if as_json:
        print_json(page)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("id", "name", "plan", "created"):
        table.add_column(column)
    for org in page.orgs:
        table.add_row(str(org.id), escape(org.name), org.plan.value, f"{org.created_at.astimezone():%Y-%m-%d %H:%M}")
    stdout().print(table)


@users_app.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="the user's name")],
    role: Annotated[Role, typer.Option(help="the user's role")],
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """A user of your organisation and its first API key, printed once."""
    user = run(lambda api: api.create_user(name, role))
    if as_json:
        print_json(user)
        return
    if not quiet:
        stdout().print(f"user {escape(user.name)} {user.id} ({user.role.value})")
    _secret(user.api_key, "its API key", quiet)


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="what the key is for")],
    scope: Annotated[
        list[Permission] | None, typer.Option(help="narrow the key to this permission (repeat for more)")
    ] = None,
    expires_in_days: Annotated[int | None, typer.Option(help="the key stops working after this", min=1)] = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Another API key for yourself, printed once."""
    key = run(lambda api: api.create_key(name, scope or None, expires_in_days))
    if as_json:
        print_json(key)
        return
    if not quiet:
        scopes = ", ".join(s.value for s in key.scopes) if key.scopes else "everything your role may do"
        expires = f"until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no expiry"
        stdout().print(f"key {escape(key.name)} {key.id}: {escape(scopes)}; {expires}")
    _secret(key.api_key, "the key", quiet)


@keys_app.command("list")
def list_keys(as_json: AsJson = False) -> None:
    """Your keys (an admin sees the organisation's), never their secrets."""
    page = run(lambda api: api.list_keys())
    if as_json:
        print_json(page)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("id", "name", "prefix", "user", "scopes", "last used", "expires", "revoked"):
        table.add_column(column, overflow="fold")
    for key in page.keys:
        table.add_row(
            str(key.id),
            escape(key.name),
            f"myk_{key.prefix}_…",
            str(key.user_id),
            ", ".join(s.value for s in key.scopes) if key.scopes else "all",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    stdout().print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[UUID, typer.Argument(help="the key's id (from `keys list`)")]) -> None:
    """Revoke a key at once, on every gateway; its access tokens stop working too."""
    key = run(lambda api: api.revoke_key(key_id))
    stdout().print(f"revoked key {escape(key.name)} {key.id} (myk_{key.prefix}_…)")


def token(
    expires_in: Annotated[int, typer.Option(help="seconds, 60 to 3600", min=60, max=3600)] = 900,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Exchange your API key for a short-lived access token (send it as `Authorization: Bearer <token>`)."""
    answer = run(lambda api: api.access_token(expires_in))
    if as_json:
        print_json(answer)
        return
    if not quiet:
        stdout().print(f"access token for {answer.expires_in} s (until {answer.expires_at:%H:%M:%S} UTC):")
    stdout().print(answer.access_token, soft_wrap=True, markup=False)
