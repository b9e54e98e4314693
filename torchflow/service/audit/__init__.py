"""The audit of the history.

Use cases (verify.py): ``audit`` / ``verify`` (`audit verify`: every case's hash
chain, its replay against the case row, the database-wide event count and key
numbers, optionally against a checkpoint file) and ``checkpoint`` (`audit
checkpoint`: counts and heads, signed with the key when set). The chain itself
is written by cases/events.py, the one writer of case history.

office.py is the one writer of the office chain (people, logins, absences,
notice settings, feed and access tokens, stored workflow versions): their
writers call ``record`` in their transaction; verify.py checks and replays it.
"""
