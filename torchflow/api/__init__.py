"""The one list of what torchflow does, and the two ways of calling it.

``operations`` names every use case the CLI has (``case.open``, ``task.done``,
``report.run``...) with its HTTP method and path under ``/api/v1/``, its
parameters and the service functions it calls, by "module:function" strings.
``invoke`` runs one in this process (embedded mode, and the server for each
request); ``client`` sends it to a ``torchflow serve`` (client mode). Both give
back the same JSON, which the CLI renders with the same code.

``operations``, ``values`` and ``client`` import the standard library only: the
client path of the CLI loads neither SQLAlchemy nor transitions.
"""
