"""The office's spreadsheets, in and out.

Use cases: ``write_template``, ``import_cases``, ``import_people`` (imports.py:
every row checked before anything is written, then a chunk per transaction);
``export_cases``, ``export_tasks``, ``export_history``, ``export_notices``
(exports.py: typed cells, local times, streamed). files.py reads and writes
CSV (UTF-8, BOM, GB18030) and XLSX, whole or not at all.
"""
