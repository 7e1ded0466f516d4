"""Command groups that import their commands only when they are used (click's documented LazyGroup).

What this guarantees:

- ``flask --help`` lists every group by the name and help given here, importing none of their modules;
- ``flask <group> ...`` imports that group's module (``target``) and no other group's; the module is
  written so that importing it is cheap (its commands import their services when they run), so
  ``flask <group> --help`` costs little more than Flask's own start-up;
- the group that runs is the target's own: its options and callback, commands and nested groups
  (``AppGroup`` commands keep their app context); only its help text is the one given here;
- ``on_load(app)``, when given, runs once before the target is first used, with the app the command
  runs in (e.g. ``flask db`` initialises Flask-Migrate there, so Alembic is imported by ``db`` alone);
  it runs once per ``LazyGroup``, so a group with an ``on_load`` is built for each app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask


def import_target(path: str) -> object:
    """The object named by ``"package.module:attribute"``."""
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ValueError(f"{path!r}: expected 'package.module:attribute'")
    return getattr(importlib.import_module(module_name), attribute)


class LazyGroup(click.Group):
    """A command group standing for ``target`` (``"package.module:group"``), imported on first use."""

    def __init__(self, name: str, target: str, *, help: str,  # noqa: A002 - click's own parameter name
                 on_load: Callable[[Flask], None] | None = None) -> None:
        super().__init__(name, help=help)
        self.target = target
        self.on_load = on_load
        self.loaded: click.Group | None = None

    def target_group(self) -> click.Group:
        """The real group: imported (and ``on_load`` run) the first time it is needed."""
        if self.loaded is None:
            if self.on_load is not None:
                self.on_load(_current_app())
            group = import_target(self.target)
            if not isinstance(group, click.Group):
                raise TypeError(f"{self.target} is not a click group")
            self.loaded = group
        return self.loaded

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The target's options (``flask db --directory``), parsed when the group runs."""
        return self.target_group().get_params(ctx)

    def invoke(self, ctx: click.Context) -> object:
        """Run as the target: its callback with its options, then the chosen command."""
        return self.target_group().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The target's commands."""
        return self.target_group().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The target's command ``cmd_name``."""
        return self.target_group().get_command(ctx, cmd_name)


def _current_app() -> Flask:
    """The app the command line is running: the active one, or the one Flask's ``ScriptInfo`` loads
    (a test's ``FlaskCliRunner`` resolves commands before any app context is pushed)."""
    from flask import current_app
    from flask.cli import ScriptInfo

    if current_app:
        return current_app._get_current_object()  # type: ignore[attr-defined, no-any-return]
    return click.get_current_context().ensure_object(ScriptInfo).load_app()  # type: ignore[return-value]
