"""``flask studio``: editors' accounts and the QA-link key, from the command line only."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app import store
from app.clock import utcnow
from app.store import studio as queries
from app.studio import accounts

studio_cli = AppGroup("studio", help="Editors' accounts for /studio, and the key that signs QA links.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _fail(error: accounts.AccountError) -> None:
    click.echo(f"Error: {error}", err=True)
    raise SystemExit(1)


@studio_cli.command("add-user")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def add_user(email: str, password_stdin: bool) -> None:
    """Create an editor's account. The password is asked for twice (or read from stdin);
    it must be at least 12 characters long and only its hash is stored."""
    store.ready()
    try:
        accounts.check_email(email)
        user = accounts.add_user(email, _password(password_stdin), utcnow())
    except accounts.AccountError as error:
        _fail(error)
        return
    click.echo(f"Created the studio account {user.email}.")


@studio_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def set_password(email: str, password_stdin: bool) -> None:
    """Change an editor's password; their open sessions end."""
    store.ready()
    try:
        accounts.set_password(email, _password(password_stdin))
    except accounts.AccountError as error:
        _fail(error)
        return
    click.echo(f"Changed the password of {accounts.normalize_email(email)}; their sessions have ended.")


@studio_cli.command("remove-user")
@click.argument("email")
def remove_user(email: str) -> None:
    """Remove an editor's account; their open sessions end."""
    store.ready()
    if not queries.remove_user(accounts.normalize_email(email)):
        click.echo(f"Error: {accounts.normalize_email(email)} has no account", err=True)
        raise SystemExit(1)
    click.echo(f"Removed the studio account {accounts.normalize_email(email)}.")


@studio_cli.command("rotate-qa-key")
def rotate_qa_key() -> None:
    """Sign QA links with a new key: every link shared so far stops working at once."""
    store.ready()
    queries.rotate_qa_key(utcnow())
    click.echo("Rotated the QA-link key: every QA link shared so far no longer opens.")
