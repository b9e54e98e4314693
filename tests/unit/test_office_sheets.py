"""Sheets as offices keep them, in the pure core (domain/sheets.py): the header
found under title rows and two-row headers, units in brackets, amounts in 万 and
亿, estimates refused, totals rows, problems summarised per column and value,
and a field required from a state on (the loader's ``required_from``)."""

from __future__ import annotations

from datetime import date

import pytest

from torchflow.config import bundled_workflows_dir
from torchflow.domain import sheets
from torchflow.domain.guards import guard_problems
from torchflow.domain.loader import check_text, load_file, parse_workflow
from torchflow.errors import InvalidInput
from torchflow.i18n import Text, translator

SPEC = load_file(bundled_workflows_dir() / "project_introduction.toml")
INVESTMENT = SPEC.fields["planned_investment"]
JOBS = SPEC.fields["expected_jobs"]


@pytest.mark.parametrize(("typed", "field", "column_unit", "stored"), [
    ("120,000", INVESTMENT, "", "120000"),
    ("3.5亿", INVESTMENT, "", "35000"),
    ("3.5亿元", INVESTMENT, "", "35000"),
    ("8000万元", INVESTMENT, "", "8000"),
    ("２，５００", INVESTMENT, "", "2500"),  # full-width digits and comma
    ("1.2", INVESTMENT, "亿元", "12000"),  # the column's unit in brackets
    ("5000", INVESTMENT, "万元", "5000"),
    ("1.2万", JOBS, "", "12000"),
    ("300人", JOBS, "人", "300"),
    ("12,34", INVESTMENT, "", "12,34"),  # not a grouping: left for the field's check
])
def test_amounts_as_offices_write_them_become_the_fields_unit(
        typed: str, field: object, column_unit: str, stored: str) -> None:
    assert sheets.amount_text(typed, field, column_unit) == stored  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["约3000", "3000左右", "3000余万", "3000多万", "3000-5000",
                                   "近1亿"])
def test_an_estimate_is_refused_saying_so(typed: str) -> None:
    refusal = sheets.amount_text(typed, INVESTMENT)
    assert isinstance(refusal, Text)
    assert str(refusal) == f"{typed!r} is an estimate; write one figure (万元)"
    assert translator("zh-CN")(refusal).startswith(repr(typed))


def test_units_in_brackets_of_either_width_are_split_off() -> None:
    assert sheets.split_unit("计划投资(万元)") == ("计划投资", "万元")
    assert sheets.split_unit("计划投资（亿元）") == ("计划投资", "亿元")
    assert sheets.split_unit("【备注】") == ("【备注】", "")
    assert sheets.split_unit("企业名称") == ("企业名称", "")


TITLE = ["2026年招商引资项目台账", None, None, None, None, None]
FILLER = ["填报单位：高新区招商局", None, None, None, "填报日期：2026年3月4日", None]
UPPER = ["序号", "项目名称", "企业信息", None, "计划投资(万元)", "当前阶段"]
LOWER = [None, None, "企业名称", "所属产业", None, None]
DATA = ["1", "氢能项目", "清能动力", "新能源", "120,000", "在谈"]


def test_the_header_is_found_under_title_rows_and_a_two_row_header() -> None:
    cells, last = sheets.find_header([TITLE, FILLER, UPPER, LOWER, DATA], SPEC)
    assert last == 4
    header = sheets.match_header(cells, SPEC, last_row=last)
    assert header.columns == ("external_ref", "title", "field:enterprise", "field:industry",
                              "field:planned_investment", "state")
    assert header.units[4] == "万元"


def test_a_header_row_given_is_taken_with_the_row_above_when_that_names_more() -> None:
    cells, last = sheets.find_header([TITLE, FILLER, UPPER, LOWER, DATA], SPEC, row=4)
    assert last == 4 and sheets.cell_text(cells[0]) == "序号"
    cells, last = sheets.find_header([TITLE, UPPER, DATA], SPEC, row=2)
    assert last == 2 and sheets.cell_text(cells[1]) == "项目名称"
    with pytest.raises(InvalidInput, match="--header-row 9 is past the sheet's first 3 rows"):
        sheets.find_header([TITLE, UPPER, DATA], SPEC, row=9)


def test_unknown_columns_are_named_once_and_skipped_when_asked() -> None:
    titles = ["序号", "项目名称", "企业名称", "牵头领导", "对接次数"]
    with pytest.raises(InvalidInput) as err:
        sheets.match_header(titles, SPEC)
    assert str(err.value).count("牵头领导") == 1
    assert "--ignore-column NAME (or all with --ignore-unknown)" in str(err.value)
    assert len(str(err.value)) < 300
    header = sheets.match_header(titles, SPEC, ignore=["牵头领导", "对接次数"])
    assert header.skipped == ("牵头领导", "对接次数")
    assert sheets.match_header(titles, SPEC, ignore_unknown=True).skipped == header.skipped
    with pytest.raises(InvalidInput, match="--ignore-column '负责领导' names no column"):
        sheets.match_header(titles, SPEC, ignore=["牵头领导", "对接次数", "负责领导"])


def test_many_unknown_columns_make_one_bounded_line() -> None:
    titles = ["序号", "项目名称", *(f"列{i}" for i in range(1000))]
    with pytest.raises(InvalidInput) as err:
        sheets.match_header(titles, SPEC)
    assert "and 990 more" in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize(("cells", "totals"), [
    (["合计", None, None, "745,100"], True), ([None, "合  计", "", "3"], True),
    (["总计：", "12"], True), (["1", "合计项目", "x"], False), (["1", "氢能项目"], False),
])
def test_a_totals_row_is_recognised(cells: list[object], totals: bool) -> None:
    assert sheets.is_totals(cells) is totals


def test_problems_are_summarised_per_column_and_value() -> None:
    header = sheets.match_header(["序号", "项目名称", "企业名称", "所属产业", "线索来源",
                                  "计划投资(万元)"], SPEC)
    rows = [sheets.read_row(n, [str(n), "t", "E", "新能源", source, "1"], header, SPEC,
                            today=date(2026, 3, 4), people={})
            for n, source in enumerate(["招商会"] + ["以商引商会"] * 13 + ["网络"], start=2)]
    lines = [str(line) for line in sheets.summarise(p for r in rows for p in r.problems)]
    assert len(lines) == 2
    assert lines[0].startswith("column '线索来源', 13 rows (3, 4, 5, 6, 7, ... (8 more)): ")
    assert lines[0].endswith("got '以商引商会'; did you mean '商协会'?")
    assert lines[1].startswith("row 16, column '线索来源': ")
    assert all(len(line) < 400 for line in lines)


REQUIRED_FROM = (bundled_workflows_dir() / "project_introduction.toml").read_text(
    encoding="utf-8").replace('required = true\nunit = "万元"',
                              'required_from = "negotiation"\nunit = "万元"')


def test_a_field_required_from_a_state_on_is_required_there_and_after() -> None:
    assert 'required_from = "negotiation"' in REQUIRED_FROM
    spec = parse_workflow(REQUIRED_FROM)
    field = spec.fields["planned_investment"]
    assert not field.required_at("lead") and not field.required_at("first_contact")
    assert field.required_at("negotiation") and field.required_at("production")
    negotiate = next(t for t in spec.transitions if t.trigger == "negotiate")
    assert "planned_investment" in negotiate.requires
    problems = guard_problems(negotiate, {"contact_person": "Ms. Li"}, ["coordinator"],
                              spec.fields)
    assert problems and "planned_investment" in str(problems[0])
    make_contact = next(t for t in spec.transitions if t.trigger == "make_contact")
    assert "planned_investment" not in make_contact.requires
    header = sheets.match_header(["序号", "项目名称", "企业名称", "所属产业", "线索来源",
                                  "当前阶段"], spec)
    lead = sheets.read_row(2, ["1", "t", "E", "新能源", "商会", "线索"], header, spec,
                           today=date(2026, 3, 4), people={})
    assert lead.problems == [] and "planned_investment" not in lead.fields
    talks = sheets.read_row(3, ["2", "t", "E", "新能源", "商会", "在谈"], header, spec,
                            today=date(2026, 3, 4), people={})
    assert [str(p.message) for p in talks.problems] == [
        "'planned_investment' is required in state 'negotiation'; give a value"]


def test_required_from_names_a_state_and_is_not_doubled_with_required() -> None:
    _spec, problems = check_text(REQUIRED_FROM.replace('required_from = "negotiation"',
                                                       'required_from = "talks"'))
    assert any("fields.planned_investment.required_from" in p for p in problems)
    _spec, problems = check_text(REQUIRED_FROM.replace(
        'required_from = "negotiation"', 'required = true\nrequired_from = "negotiation"'))
    assert any("needs no required_from" in p for p in problems)


def test_a_reader_resolves_each_word_once_with_the_same_answer_as_each_cell() -> None:
    """RowReader remembers the office's words per (column, value): a refusal and a
    value read from memory are what a fresh read gives, and the memory is bounded."""
    header = sheets.match_header(["序号", "项目名称", "企业名称", "所属产业", "线索来源",
                                  "当前阶段", "计划投资(亿元)"], SPEC)
    reader = sheets.RowReader(header, SPEC, today=date(2026, 3, 4), people={})
    cells = [["1", "t", "E", "新能源", "以商引商会", "在谈", "1.2"],
             ["2", "t", "E", "新能源", "以商引商会", "在谈", "1.2"],
             ["3", "t", "E", "光伏", "商会", "已签约", "3"]]
    for n, row in enumerate(cells, start=2):
        fresh = sheets.read_row(n, row, header, SPEC, today=date(2026, 3, 4), people={})
        kept = reader.read(n, row)
        assert (kept.state, kept.fields, [str(p) for p in kept.problems]) == (
            fresh.state, fresh.fields, [str(p) for p in fresh.problems])
    assert reader.read(3, cells[1]).problems[0].message == reader.read(
        2, cells[0]).problems[0].message  # did you mean '商协会'?
    assert reader.read(4, cells[2]).fields["planned_investment"] == 30000  # 3亿元 in 万元
    assert len(reader._words) <= sheets.WORDS_REMEMBERED


@pytest.mark.parametrize(("state", "passed"), [
    ("lead", ()), ("signed", ()), ("registered", ("signed",)),
    ("production", ("signed", "construction")),
    ("closed", ("signed", "construction", "production")),
    ("on_hold", ()), ("lost", ()),  # reached from a lead too: nothing passed for sure
])
def test_the_milestones_a_state_is_reached_only_through(state: str,
                                                        passed: tuple[str, ...]) -> None:
    assert sheets.passed_milestones(SPEC, state) == passed


def test_a_row_past_milestones_carries_their_own_dates() -> None:
    header = sheets.match_header(["序号", "项目名称", "企业名称", "所属产业", "线索来源",
                                  "计划投资额", "当前阶段", "签约日期", "投产日期"], SPEC)
    row = sheets.read_row(2, ["1", "t", "E", "新能源", "商会", "100", "已投产", "2025/3/10",
                              "2025年11月5日"], header, SPEC, today=date(2026, 3, 4),
                          people={})
    assert row.problems == []
    assert row.entered_on == date(2025, 11, 5)  # its own state's date: 投产日期
    assert row.passed == {"signed": date(2025, 3, 10), "construction": None}
