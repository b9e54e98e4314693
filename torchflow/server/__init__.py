"""`torchflow serve`: the one process that holds the office's keys (the
database, the workflows, the calendar, the channel secrets, the clock and, by
default, the scheduler) and serves the operation table as a versioned HTTP API
under ``/api/v1/`` on a Unix socket and/or a TCP address.

Starlette and uvicorn come with the ``server`` extra and are imported only by
this package: the CLI's own start-up never loads them.
"""
