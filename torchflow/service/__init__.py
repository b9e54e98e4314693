"""Use cases, one unit of work each: the only layer that runs queries.

A package per concept; each package's ``__init__`` names its use cases and the
module each lives in. The packages import nothing themselves, so importing one
module (``cases.read`` for `case show`) loads that module and what it needs,
never its package's write side.

    app.py, paging.py   the App every use case receives; a list page with its total
    workflows/          definitions, the registry of stored versions, version moves
    cases/              cases and their history; events.py writes them
    followups/          tasks; writer.py writes them; the work done on them; feeds
    delivery/           notices: routing, the ledger (their writer), sweep, digests,
                        the gate (rate budgets, held notices), dispatch, the monthly
                        report, `channel test`
    people/             who is who and who acts, absences, notice settings, handover
    sheets/             spreadsheets in and out
    reports/            the report registry and its figures
    audit/              verifying the history; checkpoints; the office chain
    calendar/           the office's schedule files; `calendar check`
    enterprises/        one file per enterprise; records.py writes them and the links
                        from cases; requests (诉求) on visits

Imports point down these levels only (no cycle, none hidden in a function):

    0  paging, cases.rows, delivery.keys, calendar.schedules,
       sheets.files
    1  cases.events, then audit.office (the office chain's writer), then
       workflows.registry (stored versions recorded there) and app
    2  people.lookup, people.checks, followups.views, reports.snapshot,
       workflows.definitions, audit.verify
    3  people.absences, cases.read, reports.figures, reports.requests, followups.feeds,
       enterprises.records, people.history
    4  delivery.routing, reports.registry
    5  delivery.ledger, people.notify
    6  followups.writer, delivery.digests, delivery.gate, delivery.monthly,
       sheets.exports
    7  cases.change, followups.work, followups.replan, delivery.sweep,
       delivery.dispatch, delivery.channel_check, people.handover,
       workflows.version_moves
    8  people.staff, sheets.imports (a re-imported stage fires as cases.change does),
       enterprises.requests
    4..8 enterprises.dossier, .linking, .sheets: above records, beside the rest
"""
