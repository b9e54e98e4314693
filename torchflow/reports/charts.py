"""The natural chart of each report, drawn with matplotlib's Agg backend (no
display): outcomes as bars per period, pipeline as a funnel, stage times as bars
with the p90 and the deadline budget, compliance as stacked bars per person,
workload as bars per person, the enterprise requests' rates as horizontal bars.

Titles are the workflow's own bilingual titles ("English · 中文"). Without a CJK
font (``apt-get install fonts-noto-cjk``) the English part alone is drawn,
rather than empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, replacing
from torchflow.i18n import _

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
                "PingFang SC")
COLOURS = {"on_time": "#2e7d32", "late": "#f9a825", "missed": "#c62828", "open": "#90a4ae"}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first CJK font family installed, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FAMILIES if n in names), None)


def label(text: str, cjk: bool, english: Mapping[str, str] | None = None) -> str:
    """A title as drawn: whole with a CJK font; else its English (``english``: the
    workflows' Chinese titles in English), or the English part of ``English · 中文``."""
    if cjk:
        return text
    part = (english or {}).get(text, text).split(" · ")[0]
    return "".join(ch for ch in part if ord(ch) < 0x2E80) or part


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(doc: dict[str, Any], *, cjk: bool | None = None,
           english: Mapping[str, str] | None = None) -> Any:
    """The report's chart as a matplotlib Figure."""
    plt = _pyplot()
    font = cjk_font()
    use_cjk = font is not None if cjk is None else cjk and font is not None
    family = [font, "DejaVu Sans"] if use_cjk and font else ["DejaVu Sans"]
    with plt.rc_context({"font.family": family, "axes.unicode_minus": False,
                         "svg.fonttype": "none" if use_cjk else "path"}):
        fig, ax = plt.subplots(figsize=(9, 4.8), dpi=100)
        _DRAW[doc["report"]](ax, doc, lambda t: label(t, use_cjk, english))
        ax.set_title(label(f"{doc['title']}", use_cjk, english) + f"  {doc['period']['from']} – "
                     f"{doc['period']['to']}", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
    return fig


def draw(doc: dict[str, Any], path: str, english: Mapping[str, str] | None = None,
         modes: FileModes = PRIVATE) -> None:
    """Write the chart to ``path`` (.png or .svg), made with ``modes`` from the start."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise InvalidInput(_("--chart {path}: give a .png or .svg file", path=path))
    if not Path(path).parent.exists():
        raise InvalidInput(_("cannot write {path}: no such directory", path=path))
    plt = _pyplot()
    fig = figure(doc, english=english)
    try:
        with replacing(Path(path), modes) as tmp:
            fig.savefig(tmp, format=suffix[1:])
    except OSError as exc:
        raise InvalidInput(_("cannot write {path}: {reason}",
                             path=path, reason=exc.strerror)) from None
    finally:
        plt.close(fig)


def svg(doc: dict[str, Any], english: Mapping[str, str] | None = None) -> str:
    """The chart as an inline SVG element (for the HTML report)."""
    plt = _pyplot()
    fig = figure(doc, english=english)
    buf = io.StringIO()
    try:
        # No metadata: its RDF names web addresses, and the page loads nothing.
        fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None,
                                                 "Format": None, "Type": None})
    finally:
        plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _empty(ax: Any, tr: Any) -> None:
    ax.text(0.5, 0.5, tr("No data in the period · 期内无数据"), ha="center", va="center",
            transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _outcomes(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    series: dict[str, dict[str, int]] = {}
    periods: list[str] = []
    for t in doc["tables"]:
        for r in t["rows"]:
            series.setdefault(r["milestone"], {})[r["period"]] = r["cases"]
            if r["period"] not in periods:
                periods.append(r["period"])
    if not series:
        return _empty(ax, tr)
    periods.sort()
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [p + i * width for p in range(len(periods))]
        ax.bar(xs, [values.get(p, 0) for p in periods], width, label=tr(name))
    ax.set_xticks([p + 0.4 - width / 2 for p in range(len(periods))], periods)
    ax.set_ylabel(tr("Cases · 件数"))
    ax.legend(fontsize=8)
    return None


def _pipeline(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    rows = doc["tables"][0]["rows"]
    if not rows:
        return _empty(ax, tr)
    # The funnel of the workflow with the most entries.
    by_flow: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_flow.setdefault(r["workflow"], []).append(r)
    flow, states = max(by_flow.items(), key=lambda kv: sum(r["entered"] for r in kv[1]))
    values = [r["entered"] for r in states]
    top = max(values) or 1
    ys = list(range(len(states)))[::-1]
    ax.barh(ys, values, left=[(top - v) / 2 for v in values], color="#1565c0")
    for y, v, r in zip(ys, values, states, strict=True):
        ax.text(top / 2, y, f"{v}  ({r['open']} open)", ha="center", va="center",
                color="white" if v > top / 4 else "black", fontsize=8)
    ax.set_yticks(ys, [tr(r["state"]) for r in states], fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel(tr(flow) + " — " + tr("cases entering each state · 进入各环节件数"))
    return None


def _stages(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    rows = doc["tables"][0]["rows"]
    if not rows:
        return _empty(ax, tr)
    # One workflow per chart (the one with the most cases): states differ per workflow.
    flows: dict[str, int] = {}
    for r in rows:
        flows[r["workflow"]] = flows.get(r["workflow"], 0) + r["cases"]
    flow = max(flows, key=lambda w: flows[w])
    rows = [r for r in rows if r["workflow"] == flow]
    xs = list(range(len(rows)))
    names = [tr(r["state"]) for r in rows]
    ax.set_xlabel(tr(flow))
    top = max(max(r["p90"] for r in rows) * 1.6, 5)
    ax.set_ylim(0, top)
    medians = [r["median"] for r in rows]
    ax.bar(xs, medians, color=["#c62828" if r["over"] else "#1565c0" for r in rows],
           label=tr("Median · 中位数"))
    ax.errorbar(xs, medians, yerr=[[0] * len(rows), [r["p90"] - r["median"] for r in rows]],
                fmt="none", ecolor="#333", capsize=3, label="P90")
    budgets = [(x, min(r["budget"], top * 0.98)) for x, r in zip(xs, rows, strict=True)
               if r["budget"]]  # a budget far above the bars is drawn at the top
    if budgets:
        ax.scatter([b[0] for b in budgets], [b[1] for b in budgets], marker="_", s=400,
                   color="#ef6c00", label=tr("Budget · 时限"), zorder=3)
    ax.set_xticks(xs, names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(tr("Working days · 工作日"))
    ax.legend(fontsize=8)
    return None


def _compliance(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    totals: dict[str, dict[str, int]] = {}
    for r in doc["tables"][0]["rows"]:
        t = totals.setdefault(r["person"], dict.fromkeys(COLOURS, 0))
        for k in COLOURS:
            t[k] += r[k]
    if not totals:
        return _empty(ax, tr)
    people = sorted(totals)
    bottom = [0] * len(people)
    names = {"on_time": "On time · 按时", "late": "Late · 逾期办理", "missed": "Missed · 漏办",
             "open": "Open · 未办"}
    for k, colour in COLOURS.items():
        values = [totals[p][k] for p in people]
        ax.bar([tr(p) for p in people], values, bottom=bottom, color=colour,
               label=tr(names[k]))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel(tr("Follow-ups due · 应办跟进"))
    ax.legend(fontsize=8)
    return None


def _workload(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    rows = doc["tables"][0]["rows"]
    if not rows:
        return _empty(ax, tr)
    keys = [("cases", "Open cases · 在办事项", "#1565c0"),
            ("tasks", "Open tasks · 待办", "#90a4ae"),
            ("overdue", "Overdue · 超期", "#c62828"),
            ("due_soon", "Due soon · 即将到期", "#f9a825")]
    width = 0.2
    xs = list(range(len(rows)))
    for i, (k, name, colour) in enumerate(keys):
        ax.bar([x + i * width for x in xs], [r[k] for r in rows], width, color=colour,
               label=tr(name))
    # A person's name as drawn: without a CJK font, the handle (``english``).
    ax.set_xticks([x + 0.3 for x in xs], [tr(r["person"]) for r in rows], fontsize=8)
    ax.legend(fontsize=8)
    return None


def _requests(ax: Any, doc: dict[str, Any], tr: Any) -> None:
    """The headline rates as horizontal bars, each labelled with what it is made
    of (12/13); a rate with no denominator is left out."""
    rows = [r for r in doc["tables"][0]["rows"]
            if r["code"] not in ("sign_median", "handle_median") and r["denominator"]]
    if not rows:
        return _empty(ax, tr)
    # The indicator in the office's language, or its English where no CJK font is
    # (``tr`` then keeps only the English part of a bilingual title).
    cjk = tr("x · 中") != "x"
    names = [r["indicator"] if cjk or r["indicator"].isascii() else r["en"] for r in rows]
    values = [100 * r["numerator"] / r["denominator"] for r in rows]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, values, color="#1565c0")
    for y, v, r in zip(ys, values, rows, strict=True):
        ax.text(min(v, 100) + 1, y, f"{v:.1f}%  ({r['numerator']}/{r['denominator']})",
                va="center", fontsize=8)
    ax.set_yticks(ys, names, fontsize=9)
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_xlabel("%")
    return None


_DRAW = {"outcomes": _outcomes, "pipeline": _pipeline, "stages": _stages,
         "compliance": _compliance, "workload": _workload, "requests": _requests}
