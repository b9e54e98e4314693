"""`pip install .` ships every package: the list in pyproject.toml is explicit
(the workflows are mapped in as torchflow.bundled), so a new package missing
from it installs a torchflow that fails on import, which the editable install
the tests run on never shows."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_every_package_under_torchflow_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "torchflow").rglob("__init__.py")}
    assert found - listed == set()
