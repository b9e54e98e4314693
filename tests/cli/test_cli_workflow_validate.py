"""`torchflow workflow validate` checks what `case open` checks: names and key
prefixes across files, content changed under a stored version (against the
configured database, when it exists, without creating one), roles nobody holds
(a warning), bounded durations; and it ends with a one-line summary."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import WORKFLOWS

pytestmark = pytest.mark.client

PI = "project_introduction.toml"
TD = "talent_docking.toml"


def _copy(folder: Path, name: str, *edits: tuple[str, str]) -> Path:
    """A shipped file copied into ``folder`` with each (old, new) replaced once."""
    folder.mkdir(exist_ok=True)
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def test_the_same_name_or_key_prefix_in_two_files_is_an_error(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "drafts"
    first = _copy(folder, TD)
    twin = folder / "zz_twin.toml"
    twin.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    run = cli.run("workflow", "validate", folder)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {twin}: name: workflow 'talent_docking' is already defined in "
        f"{first}; give each workflow its own name",
        f"error: {twin}: key_prefix: 'TD' is already used by 'talent_docking' "
        f"({first}); give each workflow its own prefix",
    ]
    assert run.out == "2 workflows, 2 errors, 0 warnings\n"


def test_content_changed_under_a_stored_version_is_an_error(cli: Cli, tmp_path: Path) -> None:
    cli.open_pi()  # stores project_introduction as it is shipped
    edited = _copy(tmp_path, PI, ('title_en = "Project introduction', 'title_en = "Project intro'))
    run = cli.run("workflow", "validate", edited)
    assert run.code == 1
    version = re.search(r"^version = (\d+)", edited.read_text(encoding="utf-8"), re.M)
    assert version is not None
    n = int(version.group(1))
    assert _errors(run.err) == [
        f"error: {edited}: version: the content changed but the version is still {n}; "
        f"raise version to {n + 1} (open cases keep version {n})"
    ]
    # Raising the version is the way out.
    bumped = _copy(tmp_path, PI, ('title_en = "Project introduction', 'title_en = "Project intro'),
                   (f"version = {n}", f"version = {n + 1}"))
    assert cli.ok("workflow", "validate", bumped).out == "1 workflow, 0 errors, 0 warnings\n"


@pytest.mark.embedded  # the server's config, environment or process
def test_a_version_older_than_the_stored_one_is_an_error(cli: Cli, tmp_path: Path) -> None:
    cli.open_pi()
    text = (WORKFLOWS / PI).read_text(encoding="utf-8")
    version = re.search(r"^version = (\d+)", text, re.M)
    assert version is not None
    n = int(version.group(1))
    newer = tmp_path / "newer"
    newer.mkdir()
    _copy(newer, PI, ('title_en = "Project introduction', 'title_en = "Project intro'),
          (f"version = {n}", f"version = {n + 1}"))
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    config = cli.config.read_text(encoding="utf-8").replace(str(WORKFLOWS), str(newer))
    cli.config.write_text(config, encoding="utf-8")
    cli.open_pi()  # stores version n + 1
    run = cli.run("workflow", "validate", folder / PI)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {folder / PI}: version: {n} is older than version {n + 1} already in use; "
        f"raise it to {n + 2}"
    ]


def test_validate_never_creates_the_configured_database(tmp_path: Path) -> None:
    missing = tmp_path / "not_yet.db"
    config = tmp_path / "config.toml"
    config.write_text('[office]\nlocale = "en"\n\n' f'[database]\nurl = "sqlite:///{missing}"\n\n'
                      f'[workflows]\ndirectory = "{WORKFLOWS}"\n', encoding="utf-8")
    run = Cli(config).run("workflow", "validate")
    assert (run.code, run.out, run.err) == (0, "9 workflows, 0 errors, 0 warnings\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_database_without_tables_is_a_warning_not_a_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    config = tmp_path / "config.toml"
    config.write_text('[office]\nlocale = "en"\n\n' f'[database]\nurl = "sqlite:///{empty}"\n\n'
                      f'[workflows]\ndirectory = "{WORKFLOWS}"\n', encoding="utf-8")
    run = Cli(config).run("workflow", "validate")
    assert run.code == 0
    assert run.out == "9 workflows, 0 errors, 1 warning\n"
    assert run.err.startswith("warning: stored versions and people not checked: ")
    assert len(run.err.splitlines()) == 1


def test_a_role_nobody_holds_and_no_other_workflow_names_is_a_warning(
    cli: Cli, tmp_path: Path
) -> None:
    typo = _copy(tmp_path, TD, ('roles = ["coordinator", "director"]',
                                 'roles = ["coordinator", "directr"]'))
    run = cli.run("workflow", "validate", typo)
    assert run.code == 0
    index = _first_index_with_roles(typo)
    assert run.err == (
        f"warning: {typo}: transitions[{index}].roles: role 'directr' is held by no one and "
        "named by no other workflow; check the spelling, or give it to someone "
        "(torchflow person add HANDLE --name NAME --role directr)\n"
    )
    assert run.out == "1 workflow, 0 errors, 1 warning\n"
    data = cli.run("workflow", "validate", typo, json=True).data
    assert data["ok"] is True and data["problems"] == [] and len(data["warnings"]) == 1
    # Once somebody holds it, it is no longer suspicious.
    cli.ok("person", "add", "qian.yu", "--name", "Qian Yu", "--role", "directr")
    assert cli.ok("workflow", "validate", typo).err == ""


def _first_index_with_roles(path: Path) -> int:
    blocks = path.read_text(encoding="utf-8").split("[[transitions]]")[1:]
    return next(i for i, block in enumerate(blocks) if '"directr"]' in block)


def test_an_unbounded_duration_is_an_error_naming_the_bound(cli: Cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_text(
        'name = "huge"\ntitle = "Huge"\nversion = 1\nkey_prefix = "HG"\n'
        '[states.lead]\ncontact = { every = "100000000 workdays" }\n'
        '[states.done]\nterminal = true\n'
        '[[transitions]]\ntrigger = "finish"\nsource = "lead"\ndest = "done"\n',
        encoding="utf-8",
    )
    run = cli.run("workflow", "validate", huge)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {huge}: states.lead.contact.every: bad duration '100000000 workdays': "
        "must be at most 750 workdays (about three years)"
    ]
    assert run.out == "1 workflow, 1 error, 0 warnings\n"


RQ = "enterprise_request.toml"


def test_a_ladder_step_to_an_unknown_role_or_not_later_than_the_one_before_is_an_error(
    cli: Cli, tmp_path: Path
) -> None:
    late = _copy(tmp_path / "late", RQ, ('after = "10 workdays"', 'after = "5 workdays"'))
    run = cli.run("workflow", "validate", late)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {late}: states.handling.deadline.ladder[2].after: must be more than the "
        "step before ('report', 5 workdays after the due day): each step comes later than "
        "the one before"]
    typo = _copy(tmp_path / "typo", RQ,
                 ('to = "director", title = "通报"', 'to = "supervisr", title = "通报"'))
    run = cli.run("workflow", "validate", typo)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {typo}: states.handling.deadline.ladder[1].to: unknown role 'supervisr'; "
        "roles are: admin, coordinator, director, expert, torch_liaison"]
    assert "Traceback" not in run.err


def test_a_budget_by_a_value_the_field_does_not_offer_is_an_error(
    cli: Cli, tmp_path: Path
) -> None:
    draft = _copy(tmp_path, RQ, ('land = "25 workdays"', 'planning = "30 workdays"'))
    run = cli.run("workflow", "validate", draft)
    assert run.code == 1
    assert _errors(run.err) == [
        f"error: {draft}: states.handling.deadline.within_by.planning: 'planning' is not a "
        "choice of field 'category'; its choices are: land, power, financing, permit, "
        "talent_housing, policy, other"]
