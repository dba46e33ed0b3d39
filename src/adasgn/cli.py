"""The ``adasgn`` command line: one program, one subcommand per task.

Every module in :mod:`adasgn.commands` that defines ``register(subparsers)`` adds a subcommand;
the parser it creates sets ``func`` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from . import __version__, commands
from .data.pkl import set_allow_unsafe_default
from .engine.config import ConfigError
from .errors import DataError, UserError

EPILOG = ("Environment: the adasgn command sets OMP_WAIT_POLICY=PASSIVE (unless already set) "
          "before torch starts, so that PyTorch's threads sleep instead of spinning while they "
          "wait -- on a machine shared with other busy processes the default makes every op "
          "wait for preempted threads. Set OMP_WAIT_POLICY=ACTIVE to get the default back.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adasgn",
        description="AdaSGN / SGN skeleton action recognition: prepare data, train, test, "
        "benchmark, predict. `adasgn COMMAND -h` documents each command.",
        epilog=EPILOG + f" (now: {os.environ.get('OMP_WAIT_POLICY', 'unset')})",
    )
    parser.add_argument("--version", action="version", version=f"adasgn {__version__}")
    parser.add_argument("--allow-unsafe-pickle", action="store_true",
                        help="load pickles that hold objects other than annotation data (only "
                             "for files you trust: a pickle can run code when it is loaded; by "
                             "default every pkl is read with a restricted unpickler)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
    for command in sub.choices.values():  # the flag is accepted after the command name too
        command.add_argument("--allow-unsafe-pickle", action="store_true",
                             default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_allow_unsafe_default(args.allow_unsafe_pickle)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"adasgn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # input problems found deep inside: one clear line, no traceback
        if isinstance(exc, (FileNotFoundError, DataError, ConfigError)):
            print(f"adasgn {args.command}: error: {exc}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"adasgn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
