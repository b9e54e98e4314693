"""The office's calendar as data.

Use cases (schedules.py): ``load_schedules`` (the office's schedule files read
and checked), ``check`` (`calendar check`: the yearly routine over open tasks),
``show`` / ``render`` (`calendar show`: a month grid). Re-planning open tasks
when the calendar changes is the follow-ups' (followups/replan.py).
"""
