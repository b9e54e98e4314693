"""Delivery: notices made, routed, recorded once and sent once.

Use cases: ``sweep`` (sweep.py: due tasks -> notices, missed contacts rolled on,
then the daily digests), ``dispatch`` (dispatch.py: notices -> channels, claimed
with a lease, backoff, dead), ``produce_monthly`` (monthly.py: the monthly
report by notice), ``list_notices``, ``retry``, ``retry_dead`` (ledger.py),
``test_channel`` (channel_check.py: `channel test`). Between the claim and the
send stands the gate (gate.py: held notices, rate budgets, folding).
ledger.py is the one writer of the notices table, gate.py of channel_budgets.
"""
