"""`ecg data ...`: what the data folder holds."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    data = groups.add_parser("data", help="inspect the ECG data folder")
    commands = data.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = commands.add_parser("info", help="databases, records, durations and label counts")
    info.add_argument("--data", help="data root (default: $ECG_DATA_DIR or ../shared/data)")
    info.add_argument("--json", help="also write the catalogue as JSON here")
    info.set_defaults(run=_info)


def _info(args: argparse.Namespace) -> int:
    from ecg_data.catalog import print_catalog

    return print_catalog(args.data, args.json)
