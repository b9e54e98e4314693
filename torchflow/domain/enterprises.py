"""An enterprise's record as people type it (一企一档): the unified social credit
code (GB 32100-2015), tags in the office's words, contacts with a phone. Pure:
the service reads and writes, this says what a value must be.

The credit code's 18th character is a mod-31 check over the first 17 (weights
3^i mod 31, the 31 characters without I, O, Z, S, V). Codes issued in the early
pilot regions before the standard fail that check and are still legal, so a
failing check is a warning the service returns, never a refusal.
"""

from __future__ import annotations

import re

from msgspec import Struct

from torchflow.domain.text import NAME_MAX, check_line
from torchflow.errors import InvalidInput
from torchflow.i18n import Text, _

CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_LENGTH = 18
WEIGHTS = tuple(pow(3, i, 31) for i in range(CODE_LENGTH - 1))
PLACE_MAX = 100
TAG_MAX = 30
TAGS_MAX = 20
PHONE_MAX = 30

# The office's tags and what people also type for them (高企 for 高新技术企业).
KNOWN_TAGS: dict[str, tuple[str, ...]] = {
    "高新技术企业": ("高企", "high-tech enterprise", "hnte"),
    "科技型中小企业": ("科小", "科技型中小", "tech-based sme"),
    "专精特新": ("专精特新中小企业", "specialised and innovative"),
    "专精特新小巨人": ("小巨人", "little giant"),
    "瞪羚企业": ("瞪羚", "gazelle"),
    "独角兽企业": ("独角兽", "unicorn"),
    "规上企业": ("规模以上", "规上", "above designated size"),
    "上市企业": ("上市公司", "listed"),
}
_TAG_WORDS = {w.casefold(): tag for tag, words in KNOWN_TAGS.items() for w in (tag, *words)}
_TAG_SPLIT = re.compile(r"[,，、;；\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]*(?:(?:转|ext\.?|x)[0-9]{1,6})?\Z", re.IGNORECASE)


def check_character(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters (all in CODE_CHARS)."""
    total = sum(CODE_CHARS.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CODE_CHARS[(31 - total % 31) % 31]


def normal_code(typed: str) -> str:
    """A credit code as stored: upper case, without the spaces people copy in.
    Refused (one line) unless it is 18 characters of the code's alphabet."""
    code = re.sub(r"\s+", "", typed).upper()
    if len(code) != CODE_LENGTH:
        raise InvalidInput(_(
            "a unified social credit code has 18 characters, {code} has {count}; copy it from "
            "the business licence, e.g. 91320214MA1XXXXXXX", code=repr(typed.strip()),
            count=len(code)))
    bad = sorted({ch for ch in code if ch not in CODE_CHARS})
    if bad:
        raise InvalidInput(_(
            "a unified social credit code uses digits and capital letters without I, O, Z, S "
            "and V; {code} has {bad}", code=repr(code), bad="".join(bad)))
    return code


def code_warning(code: str) -> Text | None:
    """Why a well-formed code may be mistyped (its check character), or None."""
    expected = check_character(code[:-1])
    if code[-1] == expected:
        return None
    return _("the check character of {code} should be {expected}, not {found}: a mistyped code, "
             "or one issued before GB 32100 in a pilot region (kept as typed)",
             code=code, expected=expected, found=code[-1])


def looks_like_code(typed: str) -> bool:
    """Whether what a person typed to name an enterprise is a credit code."""
    code = re.sub(r"\s+", "", typed).upper()
    return len(code) == CODE_LENGTH and all(ch in CODE_CHARS for ch in code) \
        and any(ch.isdigit() for ch in code)


def check_name(typed: str) -> str:
    name = check_line(typed.strip(), _("the enterprise's name"), NAME_MAX)
    if not name:
        raise InvalidInput(_("the enterprise's name is empty; write it as on the business "
                             "licence, e.g. 无锡清能动力有限公司"))
    return name


def check_place(typed: str, what: Text) -> str:
    """A district, park, industry or position: one line, or empty."""
    return check_line(typed.strip(), what, PLACE_MAX) if typed.strip() else ""


def tags_of(typed: list[str] | tuple[str, ...]) -> list[str]:
    """Tags as the office names them (高企 -> 高新技术企业), each once, in order; a tag
    the office has not listed is kept as typed. Several may share one value,
    separated by commas or 、."""
    tags: list[str] = []
    for value in typed:
        for word in _TAG_SPLIT.split(value.strip()):
            if not word:
                continue
            tag = _TAG_WORDS.get(word.casefold()) or check_line(word, _("a tag"), TAG_MAX)
            if tag not in tags:
                tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise InvalidInput(_("an enterprise has at most {limit} tags, got {count}",
                             limit=TAGS_MAX, count=len(tags)))
    return tags


class Contact(Struct, frozen=True):
    """A person at the enterprise the office calls: name, position, phone."""

    name: str
    phone: str
    position: str = ""


def parse_contact(typed: str) -> Contact:
    """``NAME[/POSITION]=PHONE``, e.g. ``李华/总经理=13912345678``."""
    who, sep, phone = typed.partition("=")
    name, _slash, position = who.partition("/")
    name, position, phone = name.strip(), position.strip(), phone.strip()
    if not sep or not name or not phone:
        raise InvalidInput(_("a contact is NAME[/POSITION]=PHONE, got {typed}; e.g. "
                             "李华/总经理=13912345678", typed=repr(typed)))
    return Contact(check_line(name, _("the contact's name"), NAME_MAX), check_phone(phone),
                   check_place(position, _("the contact's position")))


def check_phone(typed: str) -> str:
    phone = typed.strip()
    digits = sum(ch.isdigit() for ch in phone)
    if len(phone) > PHONE_MAX or not _PHONE.match(phone) or not 5 <= digits <= 20:
        raise InvalidInput(_("{phone} is not a phone number; write digits, with a hyphen after "
                             "the area code if any: 13912345678 or 0510-81234567",
                             phone=repr(phone)))
    return phone
