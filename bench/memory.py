"""Service peak memory with 1,000,000 open tasks (target: < 150 MiB), against the
bare interpreter and the interpreter with the tick's imports loaded.

Each figure is one child process: ``torchflow --config ... scheduler tick`` run
in-process by ``python -m bench.memory --child tick CONFIG``, which writes its
own peak resident set (``VmHWM`` of /proc/self/status) to a file on the way out.

Why not ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the parent: it is the peak of
the largest child ever waited for, and on Linux a child started with vfork or
fork (subprocess does) carries the parent's high-water mark into the figure at
exec, so a parent grown by the other benchmarks would be measured instead of
the tick. VmHWM after exec belongs to the new program only.

The tick is a real one: the due tasks are swept into notices, the daily digests
are produced, and the notices are dispatched to the file channel (outbox.jsonl).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.sweep import DUE, NOW, ROOT, prepare, reset

TARGET_MIB = 150.0
# What `torchflow scheduler tick` imports, without running anything.
TICK_IMPORTS = (
    "import sqlite3, sqlalchemy.dialects.sqlite; import torchflow.cli.main, torchflow.config,"
    " torchflow.scheduler, torchflow.service.app, torchflow.service.delivery.dispatch,"
    " torchflow.service.delivery.sweep, torchflow.channels"
)

Log = Callable[[str], None]


def peak_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(argv: list[str]) -> None:
    """Entry of the measured child: ``imports OUT`` or ``tick OUT CONFIG``."""
    what, out = argv[0], Path(argv[1])
    result: dict[str, Any] = {}
    if what == "bare":
        pass
    elif what == "imports":
        exec(TICK_IMPORTS)
    elif what == "tick":
        from torchflow.cli.main import cli

        cli(["--json", "--config", argv[2], "scheduler", "tick"], prog_name="torchflow",
            standalone_mode=False)
    else:
        raise SystemExit(f"unknown child {what!r}")
    result["peak_kib"] = peak_kib()
    out.write_text(json.dumps(result), encoding="utf-8")


def measure(what: str, *extra: str) -> tuple[float, str]:
    """Peak MiB of one child, and its stdout."""
    with tempfile.TemporaryDirectory(prefix="tfbench-mem-") as tmp:
        out = Path(tmp) / "peak.json"
        if what == "bare":
            code = _INLINE_PEAK + "open(sys.argv[1], 'w').write('{\"peak_kib\": %d}' % peak_kib())"
            cmd = [sys.executable, "-c", code, str(out)]
        else:
            cmd = [sys.executable, "-m", "bench.memory", "--child", what, str(out), *extra]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHFLOW_")}
        env["TORCHFLOW_NOW"] = NOW.isoformat()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"{what} child failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return json.loads(out.read_text())["peak_kib"] / 1024, proc.stdout


# The bare interpreter must not import anything to read its own peak.
_INLINE_PEAK = (
    "import sys\n"
    "peak_kib = lambda: int(next(l for l in open('/proc/self/status')"
    " if l.startswith('VmHWM:')).split()[1])\n"
)


def _tick(open_tasks: int, log: Log) -> tuple[float, dict[str, Any]]:
    prepared = prepare(open_tasks, log)
    reset(prepared, digest_done=False)
    mib, stdout = measure("tick", str(prepared.config))
    result = json.loads(stdout)
    swept = result["sweep"]
    if swept["tasks"] != DUE or result["dispatch"]["sent"] != DUE + swept["digests"]:
        raise RuntimeError(f"the tick on {open_tasks:,} tasks did not do the work: {result}")
    return mib, result


def run(quick: bool, log: Log) -> list[dict[str, Any]]:
    big_n = 100_000 if quick else 1_000_000
    bare, _ = measure("bare")
    imports, _ = measure("imports")
    small, _ = _tick(10_000, log)
    big, result = _tick(big_n, log)
    label = f"{big_n:,}" + (" (--quick: not 1,000,000)" if quick else "")
    short = "100k" if quick else "1M"
    s, d = result["sweep"], result["dispatch"]
    work = (f"tick: swept {s['tasks']} due tasks -> {s['notices']} notices + {s['digests']} "
            f"digests, sent {d['sent']} to the file channel")
    return [
        {
            "name": f"tick peak RSS, {short} open tasks", "value": big, "unit": "MiB",
            "baseline": imports, "baseline_name": "python + the tick's imports",
            "check": ("value<", TARGET_MIB),
            "note": f"{label} open tasks; {work}; bare interpreter {bare:.1f} MiB",
        },
        {
            "name": "tick peak RSS, 10k open tasks", "value": small,
            "unit": "MiB", "baseline": imports, "baseline_name": "python + the tick's imports",
            "check": None, "note": f"peak with {label} minus peak with 10,000: "
                                   f"{big - small:+.1f} MiB",
        },
        {
            "name": "bare interpreter peak RSS", "value": bare, "unit": "MiB",
            "baseline": None, "baseline_name": "", "check": None,
            "note": "python -c reading its own VmHWM",
        },
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m bench.run (this module's main is the measured child)")
