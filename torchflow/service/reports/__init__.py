"""The figures of `torchflow report ...` (docs/reports.md).

Use cases (figures.py): ``run`` (one report by name), ``run_all`` (every report
and the exceptions over one snapshot, for the HTML page). Each returns a plain
document; torchflow/reports/ renders documents as text, CSV, XLSX, charts and
HTML, and calls no service.
"""
