"""Workflow versions: the files under workflows/ and the versions stored in the
database. A definition is stored the first time it is used; a case stays pinned
to the stored version it was opened under, and its machine is compiled once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, select

from torchflow.domain.loader import load_directory, load_roles, parse_workflow
from torchflow.domain.office import OfficeKind, Subject
from torchflow.domain.vocabulary import workflow_name
from torchflow.domain.workflow import RoleSpec, WorkflowSpec
from torchflow.errors import NotFound, WorkflowError
from torchflow.i18n import Listing, Text, _
from torchflow.service.audit import office
from torchflow.store.models import WORKFLOW_VERSIONS as VERSIONS
from torchflow.store.queries import insert_ignore

if TYPE_CHECKING:
    from torchflow.domain.machine import CompiledWorkflow


class Pinned:
    """A stored workflow version; its machine is compiled on first use, so a
    command that only reads (case show) never builds one."""

    def __init__(self, version_id: int, spec: WorkflowSpec) -> None:
        self.version_id = version_id
        self.spec = spec
        self._compiled: CompiledWorkflow | None = None

    @property
    def compiled(self) -> CompiledWorkflow:
        if self._compiled is None:
            from torchflow.domain.machine import CompiledWorkflow

            self._compiled = CompiledWorkflow(self.spec)
        return self._compiled


class WorkflowRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._files: dict[str, WorkflowSpec] | None = None
        self._roles: dict[str, RoleSpec] | None = None
        self._by_id: dict[int, Pinned] = {}

    def roles(self) -> dict[str, RoleSpec]:
        """The office's names of its roles (roles.toml beside the workflows)."""
        if self._roles is None:
            self._roles = load_roles(self.directory)
        return self._roles

    def files(self) -> dict[str, WorkflowSpec]:
        """Every definition under the directory; invalid files refuse the whole load."""
        if self._files is None:
            self._files = load_directory(self.directory)
        return self._files

    def file(self, name: str) -> WorkflowSpec:
        """The file's definition named by its name or title (项目引进)."""
        files = self.files()
        found = workflow_name(files.values(), name)
        if found is None:
            known = [w.term for w in sorted(files.values(), key=lambda w: w.name)]
            raise NotFound(_("no workflow named '{name}'; workflows: {workflows}", name=name,
                             workflows=Listing(known) if known else _("none")))
        return files[found]

    def current(self, session: Connection, name: str, now: datetime, *,
                actor: office.Acting | str = office.SYSTEM) -> Pinned:
        """The file's version, stored on first use (by ``actor``, in the office's
        history); a changed file needs a new version."""
        spec = self.file(name)
        row = _row(session, spec.name)
        # A file older than the newest stored version is refused even when that older
        # version is stored: new cases would silently go back to superseded rules.
        if row is not None and row.version > spec.version:
            raise WorkflowError([_older(spec, row)])
        inserted = 0
        if row is None or row.version < spec.version:
            inserted = insert_ignore(
                session,
                VERSIONS,
                [{
                    "name": spec.name, "version": spec.version, "digest": spec.digest,
                    "source": spec.source, "registered_at": now,
                }],
                ["name", "version"],
            )
            row = _row(session, spec.name, spec.version)
            assert row is not None
            if inserted:
                office.record(session, OfficeKind.WORKFLOW_STORED, Subject.WORKFLOW, row.id,
                              actor=actor, at=now)
        if row.digest != spec.digest:
            raise WorkflowError([_changed(spec)])
        pinned = self._by_id.get(row.id)
        if pinned is None:
            # Same digest: the stored source is this file, already parsed.
            pinned = Pinned(row.id, spec)
            # A row inserted by this still-open transaction may yet be rolled back and
            # its id reused (SQLite does) for another workflow: cache it once committed.
            if not inserted:
                self._by_id[row.id] = pinned
        return pinned

    def by_id(self, session: Connection, version_id: int) -> Pinned:
        if version_id not in self._by_id:
            row = session.execute(select(VERSIONS).where(VERSIONS.c.id == version_id)).first()
            if row is None:
                raise NotFound(_("workflow version #{version_id} is not stored",
                                 version_id=version_id))
            self._pin(row)
        return self._by_id[version_id]

    def stored(self, session: Connection, name: str, version: int | None = None) -> Pinned:
        row = _row(session, name, version)
        if row is None:
            if version:
                raise NotFound(_("version {version} of '{name}' has not been used yet, so it is "
                                 "not stored", version=version, name=name))
            raise NotFound(_("'{name}' has not been used yet, so it is not stored", name=name))
        return self._pin(row)

    def versions(self, session: Connection, name: str) -> list[Row[Any]]:
        return list(
            session.execute(
                select(VERSIONS)
                .where(VERSIONS.c.name == name)
                .order_by(VERSIONS.c.version)
            )
        )

    def _pin(self, row: Row[Any]) -> Pinned:
        pinned = self._by_id.get(row.id)
        if pinned is None:
            spec = parse_workflow(row.source, f"{row.name} v{row.version} (stored)")
            pinned = self._by_id[row.id] = Pinned(row.id, spec)
        return pinned


def stored_problems(session: Connection, spec: WorkflowSpec) -> list[str | Text]:
    """What ``current`` would refuse about ``spec`` given the stored versions,
    without storing anything: `workflow validate` asks the same question."""
    newest = _row(session, spec.name)
    if newest is None:
        return []
    if newest.version > spec.version:
        return [_older(spec, newest)]
    stored = newest if newest.version == spec.version else None
    if stored is not None and stored.digest != spec.digest:
        return [_changed(spec)]
    return []


def _row(session: Connection, name: str, version: int | None = None) -> Row[Any] | None:
    """The stored row of ``version``, or of the newest version when none is named."""
    query = select(VERSIONS).where(VERSIONS.c.name == name)
    if version is not None:
        query = query.where(VERSIONS.c.version == version)
    return session.execute(query.order_by(VERSIONS.c.version.desc()).limit(1)).first()


def _older(spec: WorkflowSpec, newest: Row[Any]) -> Text:
    return _("{path}: version: {version} is older than version {newest} already in use; "
             "raise it to {next}", path=spec.path, version=spec.version, newest=newest.version,
             next=newest.version + 1)


def _changed(spec: WorkflowSpec) -> Text:
    return _("{path}: version: the content changed but the version is still {version}; raise "
             "version to {next} (open cases keep version {version})", path=spec.path,
             version=spec.version, next=spec.version + 1)
