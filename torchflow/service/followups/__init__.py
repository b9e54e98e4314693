"""Follow-ups: the tasks a case's state plans, and the work done on them.

Use cases: ``log_followup`` (a contact or visit logged), ``complete``,
``snooze``, ``reassign``, ``list_tasks``, ``agenda`` (work.py); ``stale_count``,
``plan`` / ``view`` (the dry run), ``apply`` (`replan`, replan.py); ``agenda_ics``,
``rotate_token``, ``show_token``, ``refresh_feeds`` (feeds.py: iCalendar feeds).
writer.py is the one writer of the tasks table: plan on entry, cancel on exit,
roll on, move with the owner, follow a changed field, move to another workflow
version, re-plan. views.py says how a task is shown and when it is overdue.
"""
