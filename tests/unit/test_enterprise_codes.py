"""The unified social credit code (GB 32100-2015) on real, published codes, and
what people type for tags, contacts and phones."""

from __future__ import annotations

import pytest

from torchflow.domain import enterprises as rules
from torchflow.errors import InvalidInput

# Codes as printed on the business licences of well-known companies (published
# on the national enterprise credit information system).
PUBLISHED = {
    "914403001922038216": "华为技术有限公司",
    "91440300708461136T": "深圳市腾讯计算机系统有限公司",
    "91330100799655058B": "阿里巴巴（中国）有限公司",
    "91110108551385082Q": "北京小米科技有限责任公司",
}


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_published_codes_pass_their_check(code: str) -> None:
    assert rules.check_character(code[:17]) == code[17]
    assert rules.code_warning(code) is None
    assert rules.looks_like_code(code.lower())


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_any_other_check_character_warns(code: str) -> None:
    for other in rules.CODE_CHARS:
        if other != code[17]:
            warning = rules.code_warning(code[:17] + other)
            assert warning is not None and f"should be {code[17]}" in str(warning)


def test_weights_are_powers_of_three_modulo_31() -> None:
    assert rules.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(rules.CODE_CHARS) == 31 and not set("IOZSV") & set(rules.CODE_CHARS)


def test_a_code_is_normalised_or_refused() -> None:
    assert rules.normal_code(" 9144 0300 7084 6113 6t ") == "91440300708461136T"
    with pytest.raises(InvalidInput, match="18 characters"):
        rules.normal_code("9144030070846113")
    with pytest.raises(InvalidInput, match="has O"):
        rules.normal_code("91440300708461136O")
    assert not rules.looks_like_code("无锡清能动力有限公司")


def test_tags_in_the_offices_words() -> None:
    assert rules.tags_of(["高企、科小", "专精特新, 高新技术企业", "自定义"]) == [
        "高新技术企业", "科技型中小企业", "专精特新", "自定义"]
    with pytest.raises(InvalidInput, match="at most 20 tags"):
        rules.tags_of([",".join(f"t{i}" for i in range(21))])


def test_contacts_and_phones() -> None:
    assert rules.parse_contact("李华/总经理=139 1234 5678") == rules.Contact(
        "李华", "139 1234 5678", "总经理")
    assert rules.parse_contact("王芳=0510-81234567转801").phone == "0510-81234567转801"
    for bad in ("李华", "=13912345678", "李华=12", "李华=abc"):
        with pytest.raises(InvalidInput):
            rules.parse_contact(bad)
