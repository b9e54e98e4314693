"""Enterprises (一企一档): each a record the office's cases and requests link to.

Use cases: ``add_enterprise``, ``edit_enterprise``, ``list_enterprises``
(records.py, THE WRITER of enterprises, their contacts and the links from
cases); ``show_enterprise`` (dossier.py: its file, cases, visits and contacts,
requests and how they ended); ``link_cases`` (linking.py: cases whose
enterprise is text matched by name or credit code, with a dry run);
``import_enterprises``, ``export_enterprises`` (sheets.py); ``open_request``,
``log_with_request`` (requests.py: a request (诉求) opened on its own or on a
visit or contact, linked to both).
"""
