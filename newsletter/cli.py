"""The author's `flask` commands. Thin: each calls one domain function and prints its result."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .library import get_library

posts_cli = AppGroup("posts", help="Check and list the essays in POSTS_DIR.")
subscribers_cli = AppGroup("subscribers", help="Manage the subscriber list.")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(posts_cli)
    app.cli.add_command(subscribers_cli)


# --- flask posts ------------------------------------------------------------------------------


@posts_cli.command("check")
def posts_check() -> None:
    """List every problem in every post file; exit non-zero if there is any."""
    snapshot = get_library().rescan()
    for problem in snapshot.problems:
        click.echo(problem.message, err=True)
    if snapshot.problems:
        raise SystemExit(1)
    click.echo(f"All {len(snapshot.every_post)} post files are fine.")


# --- flask subscribers ------------------------------------------------------------------------


# --- flask send / flask preview ---------------------------------------------------------------
