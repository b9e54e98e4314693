"""The shipped project workflow asks for the planned investment from negotiation
on (version 3, ``required_from``), where version 2 asked it of every lead and
offices typed 0 that reports then summed. Cases opened under version 2 move to
version 3 with every follow-up kept; under version 3 a lead opens, is imported
and leaves by an exit without an amount, and talks do not open without one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OFFICE_ADMIN, PI_FIELDS, Clock, app_with_workflow
from torchflow.config import Settings
from torchflow.errors import Problems, TorchflowError
from torchflow.service.app import App
from torchflow.service.audit.verify import verify
from torchflow.service.cases.change import advance, open_case, set_fields
from torchflow.service.cases.read import show_case
from torchflow.service.people.lookup import Actor
from torchflow.service.sheets.imports import import_cases
from torchflow.service.workflows import version_moves as vm

PI = "project_introduction.toml"
NO_AMOUNT = {k: v for k, v in PI_FIELDS.items() if k != "planned_investment"}


def as_version_2(text: str) -> str:
    """The shipped file as version 2 had it: the amount required to open."""
    assert 'required_from = "negotiation"' in text
    text = text.replace('required_from = "negotiation"', "required = true")
    return re.sub(r"(?m)^version = 3$", "version = 2", text)


@pytest.fixture
def v2_app(settings: Settings, clock: Clock, tmp_path: Path) -> Iterator[App]:
    with app_with_workflow(settings, clock, tmp_path / "workflows-v2", PI, as_version_2) as app:
        yield app


def test_open_cases_move_to_version_3_keeping_every_follow_up(
    v2_app: App, app: App, staff: dict[str, Actor]
) -> None:
    wang = staff["wang.li"]
    with pytest.raises(TorchflowError, match="planned_investment"):  # version 2 wants it
        open_case(v2_app, wang, "project_introduction", title="lead", fields=NO_AMOUNT)
    keys = [open_case(v2_app, wang, "project_introduction", title=t, fields=PI_FIELDS)["key"]
            for t in ("lead", "talks", "on hold")]
    advance(v2_app, wang, keys[1], "make_contact")
    advance(v2_app, wang, keys[1], "negotiate", fields={"contact_person": "李总"})
    advance(v2_app, wang, keys[2], "hold")
    assert {show_case(app, k)["version"] for k in keys} == {2}

    plan = vm.plan(app, OFFICE_ADMIN, "project_introduction", 3)
    view = vm.plan_view(plan)
    assert view["totals"]["cases"] == 3
    assert (view["totals"]["re-planned"], view["totals"]["cancelled"],
            view["totals"]["new"]) == (0, 0, 0)
    assert all(not c["missing_fields"] and not c["invalid_fields"] for c in view["cases"])
    assert all(o.ok for o in vm.apply(app, OFFICE_ADMIN, plan))
    assert all(r["ok"] for r in verify(app))
    assert [(show_case(app, k)["version"], show_case(app, k)["state"]) for k in keys] == [
        (3, "lead"), (3, "negotiation"), (3, "on_hold")]
    # Moved, they go on as before: the amount they carry opens the next stage.
    assert advance(app, wang, keys[0], "make_contact").to_state == "first_contact"
    assert advance(app, wang, keys[1], "inspect").to_state == "site_inspection"


def test_a_lead_needs_no_amount_until_talks_open(app: App, staff: dict[str, Actor]) -> None:
    wang = staff["wang.li"]
    key = open_case(app, wang, "project_introduction", title="lead", fields=NO_AMOUNT)["key"]
    assert "planned_investment" not in show_case(app, key)["fields"]
    advance(app, wang, key, "make_contact")
    with pytest.raises(TorchflowError, match="planned_investment"):
        advance(app, wang, key, "negotiate", fields={"contact_person": "李总"})
    assert advance(app, wang, key, "negotiate", fields={
        "contact_person": "李总", "planned_investment": "3000"}).to_state == "negotiation"
    # In talks it may change, not be emptied; a lead's 0 typed for want of one may.
    set_fields(app, wang, key, {"planned_investment": "3500"})
    with pytest.raises(TorchflowError, match="required in state 'negotiation' and cannot be"):
        set_fields(app, wang, key, {"planned_investment": ""})
    zero = open_case(app, wang, "project_introduction", title="zero", fields=PI_FIELDS)["key"]
    set_fields(app, wang, zero, {"planned_investment": ""})
    assert show_case(app, zero)["fields"].get("planned_investment") is None
    # The exits every stage shares do not ask a lead for it.
    other = open_case(app, wang, "project_introduction", title="gone", fields=NO_AMOUNT)["key"]
    assert advance(app, wang, other, "withdraw").to_state == "withdrawn"
    held = open_case(app, wang, "project_introduction", title="held", fields=NO_AMOUNT)["key"]
    assert advance(app, wang, held, "hold").to_state == "on_hold"


def test_an_imported_lead_needs_no_amount_and_talks_do(
    app: App, staff: dict[str, Actor], tmp_path: Path
) -> None:
    sheet = tmp_path / "ledger.csv"
    sheet.write_text("序号,项目名称,企业名称,所属产业,线索来源,当前阶段,计划投资(万元)\n"
                     "1,氢能项目,青能氢能,新能源,商会,线索,\n"
                     "2,光伏项目,光伏公司,光伏,商会,在谈,\n", encoding="utf-8")
    with pytest.raises(Problems) as refused:
        import_cases(app, staff["wang.li"], "project_introduction", sheet)
    assert str(refused.value).startswith("row 3, column '计划投资(万元)': "), str(refused.value)
    assert "is required in state 'negotiation'" in str(refused.value)
    sheet.write_text(sheet.read_text(encoding="utf-8").replace(",在谈,\n", ",在谈,3.5亿\n"),
                     encoding="utf-8")
    done = import_cases(app, staff["wang.li"], "project_introduction", sheet)
    assert sorted(done.created) == ["1", "2"]
