"""The audit of the history.

Use cases (verify.py): ``audit`` / ``verify`` (`audit verify`: every case's hash
chain, its replay against the case row, the database-wide event count and key
numbers, optionally against a checkpoint file) and ``checkpoint`` (`audit
checkpoint`: counts and heads, signed with the key when set). The chain itself
is written by cases/events.py, the one writer of case history.
"""
