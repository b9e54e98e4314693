"""People: who acts, who is who, who is away, how each wants to be told.

Use cases: ``add_person``, ``edit_person``, ``set_active``, ``show_person``,
``list_people``, ``first_admin``, ``acting_admins`` (staff.py); ``handover``
(handover.py); ``record_absence``, ``end_absence`` (absences.py: `person away /
back`); ``set_notify``, ``notify_of`` (notify.py: `person notify`); ``acting``,
``resolve_actor`` (lookup.py: who acts, decided once at the edge);
``person_history`` (history.py: `person history`, from the office chain).
lookup.py and checks.py are read by every other package and import none of
them; handover.py and staff.py stand above the follow-ups they move.
"""
