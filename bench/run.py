"""Run the torchflow benchmarks: ``python -m bench.run [--quick] [--only a,b] [--json OUT]``.

Every figure is printed with its baseline measured in the same run, the ratio,
the target and PASS or MISS (or "info" where no target was set). Benchmarks are
not tests: nothing here runs under pytest. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHES = ("startup", "advance", "sweep", "memory", "dispatch", "channels", "replan", "migrate",
           "imports", "reports", "requests", "server")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "code": _code(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "cpu": cpu,
        "tmp_fs": _filesystem(Path(tempfile.gettempdir())),
        "load_start": os.getloadavg()[0],
    }


def _code() -> str:
    """Which torchflow is measured: its folder, and the git commit when it has one."""
    import torchflow

    folder = Path(torchflow.__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(folder)
    changed = len(dirty.splitlines())
    return f"{folder} at {rev}" + (f" + {changed} uncommitted file(s)" if changed else "")


def _filesystem(path: Path) -> str:
    """Type of the file system holding ``path`` (the databases live there: fsync cost)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                _dev, point, fstype = line.split()[:3]
                inside = str(path.resolve()).startswith(point.rstrip("/") + "/")
                if (inside or str(path.resolve()) == point) and len(point) > len(best):
                    best, kind = point, fstype
    except OSError:
        pass
    return f"{kind} ({best or '?'})"


def evaluate(fig: dict[str, Any]) -> dict[str, Any]:
    base = fig.get("baseline")
    fig["ratio"] = fig["value"] / base if base else None
    check = fig.get("check")
    if check is None:
        fig["result"], fig["target"] = "info", "-"
        return fig
    op, limit = check
    if op == "ratio<=":
        ok, target = fig["ratio"] <= limit, f"<= {limit:.1f}x"
    elif op == "ratio>=":
        ok, target = fig["ratio"] >= limit, f">= {limit:.1f}x"
    elif op == "value<":
        ok, target = fig["value"] < limit, f"< {limit:g} {fig['unit']}"
    else:
        raise ValueError(f"unknown check {op!r}")
    fig["result"], fig["target"] = ("PASS" if ok else "MISS"), target
    return fig


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value * 1000:.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:.1f} {unit}"


def report(info: dict[str, Any], figures: list[dict[str, Any]], quick: bool) -> str:
    lines = [
        "torchflow benchmarks" + (" (--quick)" if quick else ""),
        f"  {info['date']}  nproc {info['nproc']}  Python {info['python']}  CPU {info['cpu']}",
        f"  torchflow: {info['code']}",
        f"  temp files on {info['tmp_fs']}; load average {info['load_start']:.2f} at start, "
        f"{info['load_end']:.2f} at end; took {info['seconds']:.0f} s",
        "",
        f"{'benchmark':<56} {'value':>10} {'baseline':>10} {'ratio':>6}  {'target':<11} result",
    ]
    for f in figures:
        ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "-"
        lines.append(f"{f['bench']:<9}{f['name']:<47} {fmt(f['value'], f['unit']):>10} "
                     f"{fmt(f.get('baseline'), f['unit']):>10} {ratio:>6}  {f['target']:<11} "
                     f"{f['result']}")
        if f.get("baseline_name"):
            lines.append(f"{'':9}baseline: {f['baseline_name']}")
        if f.get("note"):
            lines += textwrap.wrap(f["note"], 100, initial_indent=" " * 9,
                                   subsequent_indent=" " * 11)
    counts = {r: sum(1 for f in figures if f["result"] == r) for r in ("PASS", "MISS", "info")}
    lines += ["", f"{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['info']} info"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and 100,000 instead of 1,000,000 tasks (< 2 min)")
    parser.add_argument("--only", default="",
                        help="comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHES)
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                     + ", ".join(BENCHES))

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    info = machine()
    started = time.perf_counter()
    figures: list[dict[str, Any]] = []
    for name in BENCHES:
        if name not in chosen:
            continue
        log(f"[{name}] ...")
        t = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        for fig in module.run(args.quick, log):
            figures.append(evaluate({"bench": name, **fig}))
        log(f"[{name}] {time.perf_counter() - t:.0f} s")
    info["seconds"] = time.perf_counter() - started
    info["load_end"] = os.getloadavg()[0]
    print(report(info, figures, args.quick))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "quick": args.quick,
                                         "figures": figures}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
