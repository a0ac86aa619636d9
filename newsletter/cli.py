"""The author's `flask` commands. Thin: each calls one domain function and prints its result."""

from __future__ import annotations

from datetime import UTC, datetime

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


@posts_cli.command("list")
def posts_list() -> None:
    """Show every essay with its state: published, scheduled, draft or expired."""
    snapshot = get_library().rescan()
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    for post in snapshot.every_post:
        state = post.state(now)
        counts[state] = counts.get(state, 0) + 1
        click.echo(f"{state:<10} {post.published_at:%Y-%m-%d %H:%M}  {post.slug:<40} {post.title}")
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    click.echo(f"\n{summary or 'no essays'}; {len(snapshot.problems)} broken file(s).")
    for problem in snapshot.problems:
        click.echo(problem.message, err=True)


# --- flask subscribers ------------------------------------------------------------------------


# --- flask send / flask preview ---------------------------------------------------------------
