"""`ecg bench patch`'s output: the printed table, the JSON and the plot of hardware_sim/patch_budget.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hardware_sim.patch_budget import run_budget


def _stage_rows(report: dict) -> list[tuple[str, float, str]]:
    per = report["vm"]["per_stage"]
    rates = report["replays"]["summary"]
    return [
        ("signal path", per["signal_path_us_per_sample"], "per sample"),
        ("sample glue (rings, quality)", per["sample_glue_us_per_sample"], "per sample"),
        ("beat input", per["beat_input_us_per_beat"], f"per beat ({rates['beats_per_s']:.2f}/s)"),
        ("classifier run (copy, label)", per["classifier_run_us_per_beat"], "per beat"),
        ("window fill (VT or rhythm)", per["rhythm_fill_us_per_window"], "per window"),
        ("rhythm run (fill, copy, decode)", per["rhythm_run_us_per_window"], "per 30 s"),
        ("rules, store, alarm (housekeeping)", per["housekeeping_us_per_s"], "per s"),
        ("Patch as a whole", per["patch_us_per_s"], "per s of signal"),
    ]


def print_table(report: dict, out=sys.stdout) -> None:
    def p(text: str = "") -> None:
        print(text, file=out)

    mf = report["mcu_factors"]
    m4, s3 = mf["m4"], mf["s3"]
    vm = report["vm"]
    p(f"host {report['host_cpu']}; MicroPython 1.27 WebAssembly VM; VT model present: {report['vt_model_present']}")
    p(f"MCU us per VM us ({mf['origin']}): M4F@64 {m4['factor']:.1f} ({m4['low']:.1f}-{m4['high']:.1f}), "
      f"S3@240 {s3['factor']:.1f} ({s3['low']:.1f}-{s3['high']:.1f})")  # fmt: skip
    p()
    p(f"1. Firmware loop in the MicroPython VM ({vm['record']}, {vm['seconds']:.0f} s; TFLM not included)")
    p(f"{'stage':<36}{'VM us':>10}  {'unit':<22}{'M4F@64 ms':>10}{'S3@240 ms':>10}")
    for name, us, unit in _stage_rows(report):
        p(f"{name:<36}{us:>10,.1f}  {unit:<22}{us * m4['factor'] / 1e3:>10.2f}{us * s3['factor'] / 1e3:>10.2f}")
    p()
    p("2. TFLM invoke (MCU: M4F 1 cycle/MAC CMSIS-NN, S3 4 cycles/MAC ESP-NN)")
    p(f"{'model':<18}{'flash B':>9}{'arena asked':>12}{'arena min':>10}{'MAC/inference':>15}{'host us':>9}{'M4F ms':>8}{'S3 ms':>7}")
    for r in report["models"]:
        p(f"{r['model']:<18}{r['flash_bytes']:>9,}{r['arena_asked_bytes']:>12,}{r['arena_min_bytes']:>10,}"
          f"{r['macs_per_inference']:>15,}{r['host_invoke_us']:>9,.0f}{r['m4_ms']:>8.2f}{r['s3_ms']:>7.2f}")  # fmt: skip
    p()
    rp = report["replays"]
    s = rp["summary"]
    p(f"3. MACs per 10 s of monitored signal ({s['records']} records, {s['signal_s'] / 3600:.2f} h; budget "
      f"{rp['budget_macs_per_10s'] / 1e6:.0f} M on average)")  # fmt: skip
    p(f"{'record':<18}{'s':>7}{'beats':>7}{'beat M':>8}{'VT M':>7}{'rhythm M':>9}{'M/10 s':>8}{'worst 10 s M':>13}{'gate open':>10}")
    cinc = [r for r in rp["records"] if r["record"].startswith("cinc2017/")]
    for r in rp["records"]:
        if r in cinc:
            continue
        _record_line(p, r["record"], [r])
    if cinc:
        _record_line(p, f"cinc2017 x{len(cinc)}", cinc)
    by = s["mean_macs_per_10s_by_model"]
    p(f"mean over all signal: {s['mean_macs_per_10s'] / 1e6:.2f} M MAC/10 s ("
      + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in by.items())
      + f") -> {'within' if rp['within_budget'] else 'OVER'} budget")
    p(f"worst record: {s['worst_record']} {s['worst_record_macs_per_10s'] / 1e6:.2f} M; worst 10 s: "
      f"{s['worst_10s_record']} at {s['worst_10s_at_s']:.0f} s, {s['worst_10s_macs'] / 1e6:.2f} M")  # fmt: skip
    p()
    ram = report["ram"]
    fl = report["flash"]
    p("4. RAM and flash (bytes)")
    p(f"heap: store {ram['store_heap']:,}; Patch without models {ram['patch_heap_no_models']:,}; with the models "
      f"{ram['patch_heap_with_models']:,} (of which model files read into RAM {ram['model_bytes_in_heap']:,})")  # fmt: skip
    p(f"tensor arenas: asked by the Patch {ram['arenas_asked']:,}, smallest that run {ram['arenas_min']:,}")
    p(f"RAM total (store + Patch with models + arenas asked): "
      f"{ram['store_heap'] + ram['patch_heap_with_models'] + ram['arenas_asked']:,}")  # fmt: skip
    p("flash: firmware .mpy " + ", ".join(f"{k} {v:,}" for k, v in fl["mpy_bytes"].items())
      + f"; models {fl['model_bytes']:,}")
    p()
    p("5. Duty cycle (share of the MCU's time; range from the VM factor and cycles/MAC ranges)")
    names = list(report["duty"][0]["stages"])
    p(f"{'MCU':<30}" + "".join(f"{n[:11]:>12}" for n in names) + f"{'total':>8}{'range':>14}")
    for d in report["duty"]:
        p(f"{d['mcu']:<30}" + "".join(f"{100 * d['stages'][n]:>11.1f}%" for n in names)
          + f"{100 * d['total']:>7.1f}%{100 * d['low']:>6.0f}-{100 * d['high']:.0f}%")  # fmt: skip
    w = report["worst_10s_inference_duty"]
    p(f"inference in the worst 10 s: M4F {100 * w['m4']:.1f}%, S3 {100 * w['s3']:.1f}%")
    p()
    b = report["ble"]
    p(f"6. BLE airtime per hour (MTU {b['mtu']}, {b['phy']}, LL payload {b['ll_payload']}, encrypted; "
      f"{b['event_records_per_h']:.1f} event records, {b['snippets_per_h']:.1f} snippets, "
      f"{3600 / b['summary_period_s']:.0f} summaries an hour)")  # fmt: skip
    p(f"data: {b['bytes_per_h']:,} B, {b['packets_per_h']:,} packets, radio {b['radio_s_per_h']:.3f} s/h; "
      f"connection at {b['connection_interval_s']:g} s: {b['idle_events_per_h']:,} events, radio "
      f"{b['idle_radio_s_per_h']:.3f} s/h")  # fmt: skip


def _record_line(p, label: str, rows: list[dict]) -> None:
    secs = sum(r["duration_s"] for r in rows)

    def m(key: str) -> float:
        return sum(r["macs"].get(key, 0) for r in rows) * 10 / secs / 1e6 if secs else 0.0

    worst = max(r["worst_macs"] for r in rows) / 1e6
    p(f"{label:<18}{secs:>7.0f}{sum(r['beats'] for r in rows):>7}{m('beat'):>8.2f}{m('vt'):>7.2f}{m('rhythm'):>9.2f}"
      f"{m('beat') + m('vt') + m('rhythm'):>8.2f}{worst:>13.2f}{sum(r['vt_gate_open'] for r in rows):>10}")  # fmt: skip


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 3]})
    duties = report["duty"]
    names = list(duties[0]["stages"])
    bottom = [0.0] * len(duties)
    for i, n in enumerate(names):
        vals = [100 * d["stages"][n] for d in duties]
        a.bar([d["mcu"].split(" (")[0] for d in duties], vals, bottom=bottom, label=n, color=f"C{i}")
        bottom = [x + v for x, v in zip(bottom, vals, strict=True)]
    a.axhline(100, color="red", ls="--", lw=1)
    a.set_ylabel("% of the MCU's time")
    a.set_title("duty cycle by stage", fontsize=9)
    a.legend(fontsize=7)
    a.tick_params(axis="x", labelsize=7)
    recs = [r for r in report["replays"]["records"] if not r["record"].startswith("cinc2017/")]
    cinc = [r for r in report["replays"]["records"] if r["record"].startswith("cinc2017/")]
    labels = [r["record"] for r in recs] + ([f"cinc2017 x{len(cinc)}"] if cinc else [])
    groups = [[r] for r in recs] + ([cinc] if cinc else [])
    base = [0.0] * len(groups)
    for i, key in enumerate(("beat", "vt", "rhythm")):
        vals = []
        for g in groups:
            secs = sum(r["duration_s"] for r in g)
            vals.append(sum(r["macs"].get(key, 0) for r in g) * 10 / secs / 1e6 if secs else 0.0)
        b.bar(labels, vals, bottom=base, label=key, color=f"C{i}")
        base = [x + v for x, v in zip(base, vals, strict=True)]
    b.scatter(labels, [max(r["worst_macs"] for r in g) / 1e6 for g in groups], color="k", marker="_", s=200, label="worst 10 s")
    b.axhline(report["replays"]["budget_macs_per_10s"] / 1e6, color="red", ls="--", lw=1, label="budget (mean)")
    b.set_ylabel("M MAC per 10 s")
    b.set_title("model work per 10 s of signal, by record", fontsize=9)
    b.tick_params(axis="x", labelsize=7, rotation=45)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_cli(args: argparse.Namespace) -> int:
    report = run_budget(args)
    print_table(report)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        png = out.with_suffix(".png")
        plot(report, png)
        print(f"wrote {out}, {png}", file=sys.stderr)
    return 0
