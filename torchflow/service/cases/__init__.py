"""Cases: the cooperation matters and their history.

Use cases: ``open_case``, ``advance``, ``add_note``, ``set_fields``, ``assign``
(change.py); ``show_case``, ``list_cases``, ``history`` (read.py, which imports
nothing of the write side: `case show` starts fast). events.py is the one writer
of the cases and case_events tables (and of key_sequences): the audit head, the
version check, the update and the chained event, in one place.
"""
