"""The office's words as data: titles in both languages, aliases, choice tables and
roles.toml read and checked; what a person types resolved to the codes stored."""

from __future__ import annotations

import pytest

from tests.conftest import WORKFLOWS
from torchflow.domain import vocabulary as v
from torchflow.domain.loader import load_directory, load_roles, parse_roles, validate_text
from torchflow.errors import InvalidInput, NotFound, Refused, WorkflowError
from torchflow.i18n import ENGLISH, Label, translator

DOC = """
name = "w"
title = "流程"
title_en = "Flow"
version = 1
key_prefix = "WF"

[fields.kind]
type = "choice"
title = "类别"
title_en = "Kind"
choices = [{{ value = "big", title = "大", aliases = ["大型"] }}, "small"]

[states.a]
title = "甲"
title_en = "A"
aliases = ["在谈"]

[states.b]
title = "乙"
terminal = true
{extra}
[[transitions]]
trigger = "go"
source = "a"
dest = "b"
title = "前进"
aliases = ["走"]
"""

ZH = translator("zh-CN")


@pytest.fixture(scope="module")
def pi() -> object:
    return load_directory(WORKFLOWS)["project_introduction"]


def test_titles_in_both_languages_and_the_words_of_each_thing() -> None:
    from torchflow.domain.loader import parse_workflow

    spec = parse_workflow(DOC.format(extra=""))
    assert spec.label == Label("流程", "Flow")
    assert spec.states["a"].words == ("a", "甲", "A", "在谈")
    assert spec.states["b"].label == Label("乙", "乙")  # no English given: the title
    field = spec.fields["kind"]
    assert field.choices == ("big", "small")
    assert field.option("big").label == Label("大", "big")  # the value is its English
    assert field.option("small").words == ("small",)
    assert spec.transitions[0].words == ("go", "前进", "走")


@pytest.mark.parametrize(("extra", "problem"), [
    ('\n[states.c]\ntitle = "丙"\naliases = ["甲"]\nterminal = true\n',
     "w.toml: states: '甲' names both 'a' and 'c'; give each its own title and aliases"),
    ('\n[states.c]\ntitle = "丙"\naliases = [" 丁"]\nterminal = true\n',
     "w.toml: states.c.aliases: alias ' 丁' has spaces at its ends or control characters"),
])
def test_a_word_naming_two_states_is_refused(extra: str, problem: str) -> None:
    assert problem in validate_text(DOC.format(extra=extra), "w.toml")


def test_a_choice_table_is_checked_and_its_words_are_unique() -> None:
    doc = DOC.format(extra="").replace(
        '"small"]', '"small", { value = "small" }, { title = "无值" }, { value = "x", title = '
        '"大" }, 5]')
    problems = validate_text(doc, "w.toml")
    assert "w.toml: fields.kind.choices: 'small' is listed twice" in problems
    assert ('w.toml: fields.kind.choices[3].value: missing; required, e.g. '
            'value = "new energy"') in problems
    assert ("w.toml: fields.kind.choices: '大' names both 'big' and 'x'; give each its own "
            "title and aliases") in problems
    assert any(p.startswith("w.toml: fields.kind.choices[5]: wants a string or") for p in problems)


def test_a_transition_word_names_one_way_out_of_a_state() -> None:
    doc = DOC.format(extra="") + ('\n[[transitions]]\ntrigger = "stop"\nsource = "a"\n'
                                  'dest = "b"\ntitle = "前进"\n')
    assert ("w.toml: transitions: '前进' names both 'go' and 'stop' from state 'a'; give "
            "each its own title and aliases") in validate_text(doc, "w.toml")


def test_roles_toml_is_read_and_checked() -> None:
    roles = load_roles(WORKFLOWS)
    assert roles["director"].label == Label("局长", "Director")
    assert "分管领导" in roles["director"].aliases
    assert load_roles(WORKFLOWS / "nowhere") == {}
    with pytest.raises(WorkflowError) as exc:
        parse_roles('[roles.Boss]\ntitle = "局长"\n[roles.chief]\ntitle = "局长"\ncolour = 1\n',
                    "roles.toml")
    assert exc.value.problems == [
        "roles.toml: roles.Boss: bad role name 'Boss'; e.g. 'director'",
        "roles.toml: roles.chief.colour: unknown key 'colour'; expected one of: title, "
        "title_en, aliases",
        "roles.toml: roles: '局长' names both 'Boss' and 'chief'; give each its own title "
        "and aliases",
    ]


def test_a_choice_by_value_title_alias_or_as_typed_loosely(pi: object) -> None:
    industry = pi.fields["industry"]  # type: ignore[attr-defined]
    for typed in ("new energy", "New Energy", " 新能源 ", "新能源汽车", "ｎｅｗ ｅｎｅｒｇｙ"):
        assert v.choice_value(industry, typed) == "new energy", typed
    with pytest.raises(InvalidInput) as exc:
        v.choice_value(industry, "氢")
    assert ZH(exc.value.text).startswith("字段“所属产业”只能填：信息技术、智能制造、")
    assert str(exc.value).startswith("field 'industry' must be one of: information technology, ")


def test_a_state_a_field_and_a_workflow_by_their_words(pi: object) -> None:
    assert v.state_name(pi, "在谈") == "negotiation"  # type: ignore[arg-type]
    assert v.state_name(pi, "Negotiation") == "negotiation"  # type: ignore[arg-type]
    assert v.field_named(pi, "计划投资额").name == "planned_investment"  # type: ignore[arg-type]
    assert v.field_named(pi, "planned investment").name == "planned_investment"  # type: ignore[arg-type]
    assert v.workflow_name([pi], "项目引进") == "project_introduction"  # type: ignore[list-item]
    assert v.workflow_name([pi], "gone", ["gone"]) == "gone"  # type: ignore[list-item]
    assert v.workflow_name([pi], "nope") is None  # type: ignore[list-item]
    pairs = v.states_named([pi], "暂缓", [("project_introduction", "talks")])  # type: ignore[list-item]
    assert pairs == [("project_introduction", "on_hold")]
    assert v.states_named([pi], "talks", [("project_introduction", "talks")]) == [  # type: ignore[list-item]
        ("project_introduction", "talks")]


def test_a_transition_by_trigger_title_alias_or_the_state_it_leads_to(pi: object) -> None:
    def fire(state: str, typed: str) -> str | None:
        found = v.transition_for(pi, state, typed)  # type: ignore[arg-type]
        return found.trigger if found else None

    assert fire("site_inspection", "sign") == "sign"
    assert fire("site_inspection", "签约") == "sign"  # its title
    assert fire("site_inspection", "已签约") == "sign"  # an alias of the state it leads to
    assert fire("site_inspection", "洽谈") == "renegotiate"  # the state it leads to
    assert fire("lead", "投产") is None  # nothing from lead leads there


def test_a_word_leading_two_ways_is_refused() -> None:
    from torchflow.domain.loader import parse_workflow

    doc = DOC.format(extra="") + ('\n[[transitions]]\ntrigger = "stop"\nsource = "a"\n'
                                  'dest = "b"\ntitle = "停止"\n')
    spec = parse_workflow(doc)
    with pytest.raises(Refused) as exc:
        v.transition_for(spec, "a", "乙")
    assert ZH(exc.value.text) == "“乙”可以指前进或停止；请指明其中之一"
    assert str(exc.value) == "'乙' could mean go or stop; name one of them"


def test_a_role_by_code_name_or_alias() -> None:
    roles = load_roles(WORKFLOWS)
    assert [v.role_code(roles, t) for t in ("director", "局长", "Director", "分管领导",
                                             "new_role")] == [
        "director", "director", "director", "director", "new_role"]


def test_a_person_by_handle_or_by_a_name_only_one_person_has() -> None:
    people = [("wang.li", "王立"), ("zhang.wei", "张伟"), ("zhang.wei2", "张伟"),
              ("wangli", "wang.li")]
    assert v.person_handle("王立", people) == "wang.li"
    assert v.person_handle("wang.li", people) == "wang.li"  # a handle wins over a name
    with pytest.raises(InvalidInput) as exc:
        v.person_handle("张伟", people)
    assert ZH(exc.value.text) == "叫 张伟 的有 2 人（zhang.wei、zhang.wei2）；请用代号指明"
    assert ENGLISH(exc.value.text) == ("张伟 is the name of 2 people (zhang.wei, zhang.wei2); "
                                       "give the handle")
    with pytest.raises(NotFound, match=r"no person with handle 'li\.si'"):
        v.person_handle("li.si", people)
    with pytest.raises(NotFound) as missing:
        v.person_handle("李四", people)
    assert ZH(missing.value.text) == "没有叫 '李四' 的人员；见 `torchflow person list`"
