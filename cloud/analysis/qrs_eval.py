"""The analysis engine's QRS detector scored on annotated records as `ecg eval qrs` scores the patch's.

    python -m cloud.analysis.qrs_eval [--data DIR] [--records R,...] [--lead NAME] [--fs HZ] [--json OUT]

Each record's lead goes through `analyse` whole (in its 60-s blocks), at the record's own rate or
resampled to `--fs`; detections are matched beat by beat (EC57, 150 ms, whole record, flutter
excluded), paced records totalled apart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.signal as sps

from ecg_data.paths import data_root
from ecg_data.record import Record
from scoring.qrs_eval import Detector, evaluate, write_json
from scoring.records import annotated_paths, parse_names, read_beat_records
from scoring.report import format_table, summary_json


def engine_detector(fs: float | None = None) -> Detector:
    """Beat times (s) from `analyse`, at the record's rate or resampled to `fs`."""
    from cloud.analysis import analyse

    def detect(record: Record, lead_index: int) -> np.ndarray:
        x, rate = record.signal[:, lead_index], record.fs
        if fs is not None and fs != rate:
            ratio = Fraction(fs).limit_denominator(1000) / Fraction(rate).limit_denominator(1000)
            x, rate = sps.resample_poly(x, ratio.numerator, ratio.denominator), fs
        return np.asarray(analyse(x, rate)["beats"]["sample"], dtype=np.float64) / rate

    return detect


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloud.analysis.qrs_eval", description=__doc__)
    parser.add_argument("--data", help="folder of annotated WFDB records (default: the data root's mitdb)")
    parser.add_argument("--records", help="comma-separated record names (default: all with annotations)")
    parser.add_argument("--lead", help="signal name (default: each record's first signal)")
    parser.add_argument("--fs", type=float, help="resample to this rate first (default: the record's own)")
    parser.add_argument("--json", help="write the scores here")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else data_root() / "mitdb"
    paths = annotated_paths(data, parse_names(args.records))
    scores = evaluate(
        read_beat_records(paths), engine_detector(args.fs), args.lead, progress=sys.stderr, total=len(paths)
    )
    rate = f"{args.fs:g} Hz" if args.fs else "the record's rate"
    print(f"QRS detection, cloud analysis engine at {rate}, lead {args.lead or '(first)'}")
    print(format_table(scores))
    if args.json:
        write_json(args.json, {"detector": "cloud.analysis", "fs": args.fs, **summary_json(scores)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
