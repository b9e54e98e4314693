"""The figures of `torchflow report ...` (docs/reports.md).

Use cases (registry.py): ``run`` (one report by name), ``run_all`` (every report
and the exceptions over one snapshot: the HTML page, the monthly report). The
registry has one entry per report: its name, title, what it computes and the
document it makes. figures.py computes the tables in SQL, snapshot.py holds the
one reading transaction and the temporary tables a run's reports share.
torchflow/reports/ renders finished documents as text, CSV, XLSX, charts and
HTML, and calls no service.
"""
