"""`ecg` entry point.

Each command group registers its parsers here without importing its implementation, so
`ecg --help` is instant and gateway commands work on a machine without TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ecg_cli import (
    bench_commands,
    cloud_commands,
    data_commands,
    eval_commands,
    patch_commands,
    train_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecg", description="Wearable ECG monitor: patch, models, gateway, cloud.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    data_commands.register(groups)
    eval_commands.register(groups)
    bench_commands.register(groups)
    cloud_commands.register(groups)
    train_commands.register(groups)
    patch_commands.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except UserFacingError as exc:
        print(f"ecg: error: {exc}", file=sys.stderr)
        return 2


class UserFacingError(Exception):
    """An error whose message is meant for the person at the terminal, without a traceback."""


if __name__ == "__main__":
    sys.exit(main())
