"""Reports are a registry, and the renderers take finished documents: nothing
in torchflow/reports/ imports a service module (so none runs a query)."""

from __future__ import annotations

import ast
from pathlib import Path

import torchflow.reports
from torchflow.reports import charts
from torchflow.service.reports.registry import REPORTS

RENDERERS = Path(torchflow.reports.__file__).parent


def test_renderers_import_no_service() -> None:
    for path in sorted(RENDERERS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not [n for n in names if n.startswith("torchflow.service")], path.name


def test_each_entry_is_named_titled_and_drawn() -> None:
    for name, entry in REPORTS.items():
        assert entry.name == name
        english, _, chinese = entry.title.partition(" · ")
        assert english and chinese, entry.title
        assert entry.computes, name
        assert name in charts._DRAW, f"no chart for {name}"
