"""`torchflow report html`: one self-contained HTML file for leadership: the
outcome figures and the exceptions first, then every report with its chart
(inline SVG) and tables. No script, no external resource; the template is
package data (templates/report.html.j2)."""

from __future__ import annotations

from typing import Any

from torchflow.domain.vocabulary import english_names
from torchflow.errors import InvalidInput
from torchflow.service.app import App


def render(app: App, filters: Any) -> str:
    import jinja2

    from torchflow.reports import charts
    from torchflow.service.reports import run_all

    docs, exceptions = run_all(app, filters)
    english = english_names(app.registry.files().values())
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("torchflow.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    headline = [
        {"workflow": t["title"], "milestone": m,
         "cases": sum(r["cases"] for r in t["rows"] if r["milestone"] == m)}
        for t in docs["outcomes"]["tables"] for m in t["milestones"]
    ]
    return env.get_template("report.html.j2").render(
        docs=docs, order=list(docs), headline=headline, exceptions=exceptions,
        charts={name: charts.svg(doc, english) for name, doc in docs.items()},
        period=docs["outcomes"]["period"], generated=docs["outcomes"]["generated_at"],
    )


def write(app: App, filters: Any, path: str) -> None:
    text = render(app, filters)
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
