"""`torchflow report html`: one self-contained HTML file for leadership, in the
office's language and under the office's name: the outcome figures (with their
amounts in 万元 or 亿元) and a summary of the exceptions first (how many, the
longest overdue of each list; every one in the appendix), then every report
with its chart (inline SVG) and tables, people by name, workload only for
those with work, and how each figure is counted. No script, no external
resource; the template is package data (templates/report.html.j2). It renders
finished documents (service/reports/registry.run_all) and reads nothing itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, replacing
from torchflow.i18n import Text, _, people_time, translator
from torchflow.reports import charts

TOP = 5  # exceptions per list on the first screen; the rest in the appendix
WAN, YI = "万元", "亿元"  # 10,000 yuan; 100,000,000 yuan
PEOPLE_COLUMNS = ("person", "owner")  # columns that hold a handle


def render(docs: dict[str, dict[str, Any]], exceptions: dict[str, Any],
           about: Mapping[str, Any], english: Mapping[str, str] | None = None) -> str:
    """The page of the reports ``docs`` (by name, in order) and ``exceptions``;
    ``about``: the office's name, language and people's names by handle;
    ``english``: the workflows' titles in English, for charts drawn where no
    CJK font is installed (``vocabulary.english_names``)."""
    import jinja2  # the ``reports`` extra, imported when a page is made

    tr = translator(about.get("locale") or "zh-CN")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("torchflow.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    people = about.get("people") or {}
    env.globals["_"] = lambda msgid, **params: tr(Text(msgid, params))
    env.filters.update(number=number, amount=amount, when=people_time)
    shown = {name: {**doc, "tables": [shown_table(name, t, people) for t in doc["tables"]]}
             for name, doc in docs.items()}
    # A chart drawn without a CJK font names a person by handle.
    drawn = {**(english or {}), **{name: handle for handle, name in people.items() if name}}
    return env.get_template("report.html.j2").render(
        docs=shown, order=list(docs), headline=headline(docs["outcomes"]),
        exceptions=exceptions, top=TOP, office=about.get("office") or "",
        lang="zh-CN" if tr.chinese else "en",
        charts={name: charts.svg(doc, drawn) for name, doc in shown.items()},
        period=docs["outcomes"]["period"], generated=docs["outcomes"]["generated_at"],
    )


def headline(outcomes: dict[str, Any]) -> list[dict[str, Any]]:
    """Per workflow and milestone: the cases that reached it, and each summed
    field added up (its unit kept)."""
    cards = []
    for t in outcomes["tables"]:
        sums = [c for c in t["columns"] if "sum_of" in c]
        for m in t["milestones"]:
            rows = [r for r in t["rows"] if r["milestone"] == m]
            cards.append({"workflow": t["title"], "milestone": m,
                          "cases": sum(r["cases"] for r in rows),
                          "sums": [{"title": c["sum_of"], "unit": c.get("unit") or "",
                                    "value": sum(r.get(c["key"]) or 0 for r in rows)}
                                   for c in sums]})
    return cards


def shown_table(report: str, table: dict[str, Any],
                people: Mapping[str, str | None]) -> dict[str, Any]:
    """A table as the page shows it: people by name (a handle left when the
    person has none), and the workload only of people with work."""
    columns, rows = table["columns"], table["rows"]
    named = [c["key"] for c in columns if c["key"] in PEOPLE_COLUMNS]
    if named:
        rows = [{**r, **{k: people.get(r[k]) or r[k] for k in named if r.get(k)}} for r in rows]
    if report == "workload":
        counts = [c["key"] for c in columns if c["type"] == "int"]
        rows = [r for r in rows if any(r.get(k) for k in counts)]
        columns = [c for c in columns if c["key"] != "name"]  # the person is the name now
    return {**table, "columns": columns, "rows": rows}


def number(value: Any) -> str:
    """A count or a figure with its thousands grouped (1,234; 3.5)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return _grouped(value)


def amount(value: Any, unit: str | None) -> str:
    """A summed amount in its unit; 万元 from 10,000 on in 亿元: 745100 -> 74.51 亿元."""
    if value is None or value == "":
        return ""
    if unit == WAN and abs(value) >= 10_000:
        return f"{_grouped(value / 10_000)} {YI}"
    return f"{_grouped(value)} {unit}".strip() if unit else _grouped(value)


def _grouped(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def write(docs: dict[str, dict[str, Any]], exceptions: dict[str, Any],
          about: Mapping[str, Any], path: str, english: Mapping[str, str] | None = None,
          modes: FileModes = PRIVATE) -> None:
    text = render(docs, exceptions, about, english)
    try:
        with replacing(Path(path), modes) as tmp:  # made with its mode, whole or not at all
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(_("cannot write {path}: {reason}",
                             path=path, reason=exc.strerror)) from None
