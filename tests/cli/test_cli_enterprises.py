"""`torchflow enterprise ...`: add, edit, show, list, link, import, export, in text
and JSON; bad input refused in one line with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.client

HUAWEI = "914403001922038216"  # 华为技术有限公司: a check character that passes
PILOT = "914403001922038217"  # the same with a check character that fails


def add_qingneng(cli: Cli, *extra: str) -> dict:
    return cli.json("enterprise", "add", "无锡清能动力有限公司", "--code", "9144 0300 1922 0382 16",
                    "--district", "新吴区", "--industry", "氢能", "--tag", "高企、专精特新",
                    "--coordinator", "Wang Li", "--contact", "李华/总经理=13912345678", *extra,
                    as_="wang.li")


def test_add_show_list_in_text_and_json(cli: Cli) -> None:
    added = add_qingneng(cli)
    assert added["credit_code"] == HUAWEI and added["warnings"] == []
    assert added["tags"] == ["高新技术企业", "专精特新"]
    assert added["coordinator"] == "wang.li"
    assert added["contacts"] == [{"name": "李华", "position": "总经理", "phone": "13912345678"}]

    text = cli.ok("enterprise", "show", HUAWEI).out
    assert "无锡清能动力有限公司" in text and "13912345678" in text and "passes" in text
    shown = cli.json("enterprise", "show", "无锡清能动力有限公司")
    assert shown["code_check"] is True and shown["open_cases"] == [] and shown["requests"] == []

    cli.ok("enterprise", "add", "江苏芯联微电子有限公司", "--tag", "科小", as_="zhao.min")
    listed = cli.json("enterprise", "list", "--tag", "高新技术企业")
    assert [e["name"] for e in listed["items"]] == ["无锡清能动力有限公司"]
    assert cli.json("enterprise", "list", "--search", "芯联")["total"] == 1
    table = cli.ok("enterprise", "list").out
    assert "江苏芯联微电子有限公司" in table and "科技型中小企业" in table


def test_a_failing_check_character_is_a_warning_not_a_refusal(cli: Cli) -> None:
    run = cli.ok("enterprise", "add", "深圳试点企业", "--code", PILOT, as_="wang.li")
    assert "warning" in run.out and "should be 6, not 7" in run.out
    assert cli.json("enterprise", "show", PILOT)["code_check"] is False


def test_bad_input_is_one_line_and_writes_nothing(cli: Cli) -> None:
    assert "18 characters" in cli.refused("enterprise", "add", "某公司", "--code", "91440300",
                                          as_="wang.li")
    assert "without I, O, Z, S" in cli.refused("enterprise", "add", "某公司", "--code",
                                               "91440300192203821I", as_="wang.li")
    assert "NAME[/POSITION]=PHONE" in cli.refused("enterprise", "add", "某公司", "--contact",
                                                  "李华", as_="wang.li")
    assert "not a phone number" in cli.refused("enterprise", "add", "某公司", "--contact",
                                               "李华=call me", as_="wang.li")
    assert cli.json("enterprise", "list")["total"] == 0
    add_qingneng(cli)
    assert "already" in cli.refused("enterprise", "add", "无锡清能动力有限公司", as_="wang.li")
    assert "no enterprise named" in cli.refused("enterprise", "show", "无此企业")
    # Only coordinators (and admins) keep the records.
    assert "may not" in cli.refused("enterprise", "add", "某公司", as_="sun.hao")
    assert cli.json("enterprise", "list")["total"] == 1


def test_edit_tags_contacts_and_code(cli: Cli) -> None:
    add_qingneng(cli)
    edited = cli.json("enterprise", "edit", HUAWEI, "--remove-tag", "高企", "--tag", "瞪羚",
                      "--contact", "王芳=0510-81234567", "--remove-contact", "李华",
                      "--name", "无锡清能科技有限公司", as_="zhao.min")
    assert edited["name"] == "无锡清能科技有限公司"
    assert edited["tags"] == ["专精特新", "瞪羚企业"]
    assert [c["name"] for c in edited["contacts"]] == ["王芳"]
    assert "nothing to change" in cli.refused("enterprise", "edit", HUAWEI, as_="zhao.min")


def test_link_existing_cases_with_a_dry_run(cli: Cli) -> None:
    add_qingneng(cli)
    cli.json("enterprise", "add", "江苏芯联微电子有限公司", as_="wang.li")
    by_name = cli.open_pi("By name", fields=(
        "enterprise=无锡清能动力有限公司", "industry=new energy", "lead_source=torch center",
        "planned_investment=100"))
    # Full-width brackets typed in the ledger match the record's half-width ones.
    unknown = cli.open_pi("Unknown", fields=(
        "enterprise=无名（无锡）有限公司", "industry=new energy", "lead_source=torch center",
        "planned_investment=100"))
    dry = cli.json("enterprise", "link", "--dry-run")
    assert dry["dry_run"] is True
    assert [(x["key"], x["enterprise"], x["by"]) for x in dry["linked"]] == [
        (by_name, "无锡清能动力有限公司", "name")]
    assert [x["key"] for x in dry["unmatched"]] == [unknown]
    assert cli.json("enterprise", "show", HUAWEI)["open_cases"] == []  # nothing written

    text = cli.ok("enterprise", "link").out
    assert by_name in text and "1 linked, 1 unmatched" in text
    assert [c["key"] for c in cli.json("enterprise", "show", HUAWEI)["open_cases"]] == [by_name]
    assert cli.json("enterprise", "link")["already"] == 1
    assert "may not" in cli.refused("enterprise", "link", as_="wang.li")


def test_export_then_import_again(cli: Cli, tmp_path: Path) -> None:
    add_qingneng(cli, "--contact", "赵强=0510-85550000")
    out = tmp_path / "ledger.csv"
    assert cli.json("enterprise", "export", str(out))["rows"] == 1
    text = out.read_text(encoding="utf-8-sig")
    assert "统一社会信用代码" in text and HUAWEI in text and "赵强=0510-85550000" in text
    sheet = tmp_path / "new.csv"
    sheet.write_text("企业名称,统一社会信用代码,园区,标签,联系人,联系电话\n"
                     f"无锡清能动力有限公司,{HUAWEI},无锡高新区,高企,李华,13912345678\n"
                     f"新企业有限公司,{PILOT},,科小,,\n", encoding="gb18030")
    dry = cli.json("enterprise", "import", str(sheet), "--dry-run", as_="wang.li")
    assert (dry["added"], dry["updated"], dry["dry_run"]) == (1, 1, True)
    assert len(dry["warnings"]) == 1 and "row 3" in dry["warnings"][0]
    assert cli.json("enterprise", "list")["total"] == 1
    cli.ok("enterprise", "import", str(sheet), as_="wang.li")
    assert cli.json("enterprise", "show", HUAWEI)["district"] == "无锡高新区"
    assert cli.json("enterprise", "list")["total"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("企业名称,统一社会信用代码\n好企业,\n坏企业,123\n", encoding="utf-8")
    line = cli.refused("enterprise", "import", str(bad), as_="wang.li")
    assert "nothing imported" in line and "row 3" in line
    assert cli.json("enterprise", "list")["total"] == 2


def test_a_visit_raises_a_request_linked_to_both(cli: Cli) -> None:
    add_qingneng(cli)
    key = cli.open_pi("By name", fields=(
        "enterprise=无锡清能动力有限公司", "industry=new energy", "lead_source=torch center",
        "planned_investment=100"))
    # Not linked yet: refused, and the visit is not logged either.
    assert "linked to no enterprise" in cli.refused(
        "case", "visit", key, "--request", "扩产需新增用地30亩", "--category", "land",
        as_="wang.li")
    assert cli.json("case", "history", key)["events"][-1]["kind"] == "opened"
    cli.ok("enterprise", "link")
    assert "needs its category" in cli.refused("case", "visit", key, "--request", "用地",
                                               as_="wang.li")
    text = cli.ok("case", "visit", key, "--note", "车间满负荷", "--request", "扩产需新增用地30亩",
                  "--request", "申请专变增容", "--category", "用地", as_="wang.li").out
    assert "requests opened: RQ-2026-0001, RQ-2026-0002" in text
    alone = cli.json("request", "open", HUAWEI, "人才公寓申请", "--category", "talent housing",
                     as_="zhao.min")
    assert alone["key"] == "RQ-2026-0003"
    assert "must be one of: land, power" in cli.refused(
        "request", "open", HUAWEI, "某事", "--category", "月球", as_="zhao.min")
    shown = cli.json("enterprise", "show", HUAWEI)
    assert [(r["key"], r["category"], r["raised_on"]) for r in shown["requests"]] == [
        ("RQ-2026-0001", "land", key), ("RQ-2026-0002", "land", key),
        ("RQ-2026-0003", "talent_housing", None)]
    [visit] = shown["followups"]
    assert visit["requests"] == ["RQ-2026-0001", "RQ-2026-0002"]
    assert "RQ-2026-0003" in cli.ok("enterprise", "show", HUAWEI).out


@pytest.mark.embedded
def test_the_office_reads_an_enterprise_in_chinese(tmp_path: Path, config_file: Path) -> None:
    config = tmp_path / "zh.toml"
    config.write_text(config_file.read_text(encoding="utf-8").replace(
        '[office]\nlocale = "en"', '[office]\nlocale = "zh-CN"'), encoding="utf-8")
    zh = Cli(config)
    zh.ok("init", "--admin", "office.admin")
    assert zh.ok("enterprise", "add", "深圳试点企业", "--code", PILOT).out.splitlines() == [
        "已建档：深圳试点企业",
        f"提示：{PILOT} 的校验码应为 6，而非 7：可能录入有误，也可能是GB 32100实施前试点地区赋的码"
        "（已按原样保存）"]
    shown = zh.ok("enterprise", "show", PILOT).out
    assert "统一社会信用代码" in shown and "未通过（早期试点地区代码，或录入有误）" in shown
    assert "企业诉求：" in shown
    assert zh.refused("enterprise", "add", "某公司", "--code", "123") == (
        "错误：统一社会信用代码应为18位，'123' 为 3 位；请照营业执照填写，如 91320214MA1XXXXXXX")
