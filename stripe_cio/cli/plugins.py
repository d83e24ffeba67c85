"""Command groups plugged in from outside the engine, loaded only when they are needed.

Commands that need Prefect (blocks, flows) live outside `stripe_cio/`, which never imports
Prefect; they register under the `stripe_cio.commands` entry-point group. Loading one imports
Prefect, which takes seconds, so a group is imported only when it is run or help is shown.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer
import typer.core

ENTRY_POINT_GROUP = "stripe_cio.commands"


def _plugin_entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


class PluginGroup(typer.core.TyperGroup):
    """The root command group: its own commands plus, lazily, the command groups of plugins."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_plugin_entry_points()))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry_point = _plugin_entry_points().get(cmd_name)
        if entry_point is None:
            return None
        loaded: Any = entry_point.load()
        command = typer.main.get_command(loaded) if isinstance(loaded, typer.Typer) else loaded
        self.add_command(command, cmd_name)
        return command
