"""Workflow definitions: the files, their stored versions, and moving cases
between versions.

Use cases: ``list_workflows``, ``get_spec``, ``validate_files``, ``diagram``
(definitions.py: `workflow list / show / validate / diagram`); ``plan``,
``apply``, ``revert`` (version_moves.py: `workflow migrate`, and back).
registry.py is the registry every use case reads through (``App.registry``):
workflow files <-> stored versions, one compiled machine per version.
"""
