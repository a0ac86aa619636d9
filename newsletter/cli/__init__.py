"""The author's `flask` commands (posts, subscribers, send, preview). Thin: each calls one domain
function and prints its result.

On top: may import every stage below; nothing below imports it. The commands are registered as
`LazyCommand`s, so a web worker (which builds the same app) never imports their modules, the
sending stack among them: a command's module is imported when it runs or help lists it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import click
from flask import Flask

# name: "module:attribute" of each command group or command.
COMMANDS = {
    "posts": "newsletter.cli.commands:posts_cli",
    "subscribers": "newsletter.cli.commands:subscribers_cli",
    "send": "newsletter.cli.send:send_command",
    "preview": "newsletter.cli.send:preview_command",
    "mail": "newsletter.cli.maintenance:mail_cli",
    "worker": "newsletter.cli.worker:worker_command",
}


class LazyCommand(click.Command):
    """Stands in for a click command (or group) until it is used, then hands over to it."""

    def __init__(self, name: str, load: Callable[[], click.Command]) -> None:
        super().__init__(name)
        self._load = load
        self._command: click.Command | None = None

    @property
    def command(self) -> click.Command:
        """The real command, imported on first use."""
        if self._command is None:
            self._command = self._load()
        return self._command

    def make_context(self, info_name, args, parent=None, **extra: Any) -> click.Context:
        # The context is the real command's, so click invokes the real command with it.
        return self.command.make_context(info_name, args, parent=parent, **extra)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.command.get_short_help_str(limit)

    def shell_complete(self, ctx: click.Context, incomplete: str):
        return self.command.shell_complete(ctx, incomplete)


def import_command(target: str) -> Callable[[], click.Command]:
    """A loader for the command named by "module:attribute"."""
    module, _, attribute = target.partition(":")
    return lambda: getattr(importlib.import_module(module), attribute)


def init_app(app: Flask, extra: dict[str, Callable[[], click.Command]] | None = None) -> None:
    """Register every command lazily; `extra` adds commands loaded by other means (`flask db`)."""
    loaders = {name: import_command(target) for name, target in COMMANDS.items()}
    if extra and "db" in extra:
        extra = {**extra, "db": with_backup(extra["db"])}
    for name, load in {**loaders, **(extra or {})}.items():
        app.cli.add_command(LazyCommand(name, load))


def with_backup(load_db_group: Callable[[], click.Group]) -> Callable[[], click.Group]:
    """Flask-Migrate's `flask db` group with our `flask db backup` added, loaded when used."""

    def load() -> click.Group:
        from newsletter.cli.maintenance import backup_command

        group = load_db_group()
        group.add_command(backup_command)
        return group

    return load
