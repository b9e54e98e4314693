"""The message catalogs: every message marked in torchflow/ has a Chinese
translation, each translation keeps its message's placeholders, and the shipped
.mo is the compiled .po (tools/catalogs.py writes both; docs/i18n.md)."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from tools import catalogs
from torchflow.i18n import ENGLISH, Label, Listing, Role, _, ngettext_, pgettext_, translator


def key(message: Message) -> object:
    """A message's id, with its context when it has one: "BY" for a person's
    history (操作人) is another message than "BY" for a case's (经办人)."""
    return message.id if message.context is None else (message.context, message.id)


@pytest.fixture(scope="module")
def extracted() -> dict[object, object]:
    return {key(m): m for m in catalogs.extract() if m.id}


@pytest.fixture(scope="module")
def zh() -> dict[object, object]:
    return {key(m): m for m in catalogs.read("zh_CN") if m.id}


def placeholders(text: str) -> list[str]:
    """The ``{name!r:fmt}`` fields of a message, as written, sorted."""
    fields = []
    for _lit, name, spec, conv in string.Formatter().parse(text):
        if name is not None:
            fields.append(name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else ""))
    return sorted(fields)


def test_every_message_has_a_chinese_translation(extracted: dict, zh: dict) -> None:
    missing = [mid for mid in extracted
               if mid not in zh or zh[mid].fuzzy
               or not all(zh[mid].string if isinstance(zh[mid].string, tuple)
                          else [zh[mid].string])]
    assert missing == [], ("messages without a zh_CN translation; run `python -m "
                           "tools.catalogs`, translate them in the .po and run it again "
                           "(docs/i18n.md)")


def test_the_catalog_holds_no_message_the_code_no_longer_has(extracted: dict, zh: dict) -> None:
    assert sorted(map(str, set(zh) - set(extracted))) == []


def test_each_translation_keeps_the_placeholders_of_its_message(zh: dict) -> None:
    wrong = []
    for mid, message in zh.items():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want = placeholders(ids[-1])
        wrong += [(mid, s) for s in strings if s and placeholders(s) != want]
    assert wrong == []


def test_the_shipped_mo_is_the_compiled_po() -> None:
    po = catalogs.po_path("zh_CN")
    compiled = catalogs.mo_bytes(read_po(io.BytesIO(po.read_bytes()), locale="zh_CN",
                                         domain=catalogs.DOMAIN))
    assert po.with_suffix(".mo").read_bytes() == compiled, (
        "torchflow.mo is not the compiled torchflow.po; run `python -m tools.catalogs`")


def test_the_mo_is_package_data() -> None:
    text = (Path(catalogs.ROOT) / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/torchflow.mo"' in text


def test_a_message_reads_in_each_language() -> None:
    zh, en = translator("zh-CN"), translator("en")
    message = _("{key}: {problem}", key="PI-2026-0001",
                problem=_("'{trigger}' may be done only by a person with role {roles}",
                          trigger=Label("签约", "sign"),
                          roles=Listing([Role("director"), Role("coordinator")], "or")))
    assert en(message) == ("PI-2026-0001: 'sign' may be done only by a person with role "
                           "director or coordinator")
    office = zh.with_roles({"director": Label("局长", "director"),
                            "coordinator": Label("招商专员", "coordinator")})
    assert office(message) == "PI-2026-0001：“签约”只能由局长或招商专员办理"
    # Without the office's names a role shows as its code.
    assert zh(message) == "PI-2026-0001：“签约”只能由director或coordinator办理"
    assert str(message) == en(message) == ENGLISH(message)


def test_plurals_and_a_missing_translation() -> None:
    zh = translator("zh_CN")
    one, many = ngettext_("{n} error", "{n} errors", 1), ngettext_("{n} error", "{n} errors", 3)
    assert (str(one), str(many)) == ("1 error", "3 errors")
    assert (zh(one), zh(many)) == ("1 个错误", "3 个错误")
    # A message not in the catalog reads in English rather than not at all.
    assert zh(_("not in any catalog: {x}", x=1)) == "not in any catalog: 1"


def test_a_context_tells_the_same_english_apart() -> None:
    # "BY" heads a person's history (who made the change) and an enterprise's
    # file (who handles it): one English word, two Chinese ones.
    zh = translator("zh-CN")
    history = pgettext_("person history", "BY")
    assert (str(history), zh(history)) == ("BY", "操作人")
    assert zh.gettext("BY") == "经办人"
    assert history != _("BY")
