"""Run every benchmark, then write bench/RESULTS.md and one PNG chart per benchmark.

Usage: python bench/run_all.py            (make bench; about 5 minutes on 2 cores)
       BENCH_QUICK=1 python bench/run_all.py   (make bench-quick; CI: proves it still runs)
       python bench/run_all.py --report  (only re-render RESULTS.md and the charts)

Each benchmark runs in its own process and writes bench/results/<name>.json; every figure
carries its own baseline measured in the same run, so the ratios hold whatever the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_delivery", "bench_callbacks", "bench_jobs", "bench_burst", "bench_render"]
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
CHARTS = HERE / "charts"
REPORT = HERE / ("RESULTS.quick.md" if QUICK else "RESULTS.md")


def run() -> None:
    for name in BENCHES:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        subprocess.run([sys.executable, str(HERE / f"{name}.py")], check=True, cwd=HERE.parent)
        print(f"   {time.monotonic() - started:.0f} s", flush=True)


def load() -> list[dict[str, Any]]:
    results = []
    for name in BENCHES:
        path = HERE / "results" / f"{name.removeprefix('bench_')}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
    return results


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def chart(result: dict[str, Any]) -> Path:
    """Bars of each figure's ratio to its baseline (log scale), the baseline at 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [f for f in result["figures"] if f["ratio"] is not None]
    labels = [f["figure"] for f in figures]
    ratios = [max(f["ratio"], 1e-3) for f in figures]
    colors = [
        "tab:green" if f["met"] else "tab:red" if f["met"] is False else "tab:blue"
        for f in figures
    ]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(labels) + 1.6))
    ax.barh(labels, ratios, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("ratio to the same-run baseline (log scale; green: target met, red: missed)")
    ax.set_title(
        f"{result['bench']}: {result['date']}{' (quick mode)' if result['quick'] else ''}"
    )
    for y, f in enumerate(figures):
        ax.annotate(
            f"{f['ratio']:.2f}x ({fmt(f['value'])} {f['unit']})", (max(f["ratio"], 1e-3), y),
            xytext=(4, 0), textcoords="offset points", va="center", fontsize=8,
        )  # fmt: skip
    ax.invert_yaxis()
    fig.tight_layout()
    CHARTS.mkdir(exist_ok=True)
    out = CHARTS / f"{result['bench']}{'.quick' if QUICK else ''}.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def report(results: list[dict[str, Any]]) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run_all.py`): every figure is measured against its own",
        "baseline in the same run, on the project's fakes on 127.0.0.1. Absolute numbers depend",
        "on the machine and, on a shared machine, on everyone else's load: read the ratios.",
        "Profiles, before/after numbers and what explains each missed target:",
        "[docs/performance16.md](../docs/performance16.md).",
        "",
    ]
    for result in results:
        png = chart(result)
        lines += [
            f"## {result['bench']}",
            "",
            f"{result['date']}; {result['machine']}{'; quick mode' if result['quick'] else ''}",
            "",
            f"![{result['bench']}](charts/{png.name})",
            "",
            "| figure | value | baseline | ratio | target | met | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in result["figures"]:
            met = {True: "yes", False: "**no**", None: "-"}[f["met"]]
            ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "-"
            baseline = f"{fmt(f['baseline'])} {f['unit']} ({f['baseline_what']})"
            lines.append(
                f"| {f['figure']} | {fmt(f['value'])} {f['unit']} | {baseline} | {ratio} | "
                f"{f['target']} | {met} | {f['note']} |"
            )
        lines.append("")
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT.relative_to(HERE.parent)} and {len(results)} charts")


if __name__ == "__main__":
    if "--report" not in sys.argv:
        run()
    report(load())
