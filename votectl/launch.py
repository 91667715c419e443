"""The `votectl` console script's entry point, which imports the CLI only when called.

`votectl up` starts its children with multiprocessing's spawn, and a spawned child imports the
script that started its parent (here the console script, which imports this module) before
it runs. Were the entry point the CLI module, every gateway, processor and writer would import
Typer, Rich and every command for nothing. (`python -m votectl` is spared by multiprocessing
itself: it skips a main module named ``*.__main__``.)
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> int:
    from votectl.cli.app import main as run

    return run()
