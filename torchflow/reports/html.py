"""`torchflow report html`: one self-contained HTML file for leadership: the
outcome figures and the exceptions first, then every report with its chart
(inline SVG) and tables. No script, no external resource; the template is
package data (templates/report.html.j2). It renders finished documents
(service/reports/registry.run_all) and reads nothing itself."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchflow.errors import InvalidInput
from torchflow.files import PRIVATE, FileModes, replacing
from torchflow.reports import charts


def render(docs: dict[str, dict[str, Any]], exceptions: dict[str, Any],
           english: Mapping[str, str] | None = None) -> str:
    """The page of the reports ``docs`` (by name, in order) and ``exceptions``;
    ``english``: the workflows' titles in English, for charts drawn where no CJK
    font is installed (``vocabulary.english_names``)."""
    import jinja2  # the ``reports`` extra, imported when a page is made

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


def write(docs: dict[str, dict[str, Any]], exceptions: dict[str, Any], path: str,
          english: Mapping[str, str] | None = None, modes: FileModes = PRIVATE) -> None:
    text = render(docs, exceptions, english)
    try:
        with replacing(Path(path), modes) as tmp:  # made with its mode, whole or not at all
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
