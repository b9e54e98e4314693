"""Message catalogs: every text a person reads, in the office's language.

Code marks a message where it is made, ``_("case {key} is closed", key=key)``
(``ngettext_`` for counts, ``pgettext_`` for one word that reads differently in
two places), and gets a ``Text``: the English message id and
its parameters, not yet translated. The edge that shows it (the CLI, the
server, a notice being written) renders it with the ``Translator`` of the
office's locale (``[office] locale``): ``tr(text)``. So the core never needs to
know the language, and one error raised deep in a use case reads in Chinese on
the terminal, in the API's JSON and in a mail alike.

The catalogs are gettext's (``torchflow/locale/<lang>/LC_MESSAGES/torchflow.po``,
compiled to ``.mo``); Babel extracts the ids from the calls to ``_``,
``ngettext_`` and ``N_`` (see docs/i18n.md). English is the source language.
``str(text)`` is the English, so a ``Text`` can stand wherever a str was.

Stdlib only: the client path imports this module.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

DOMAIN = "torchflow"
LOCALE_DIR = Path(__file__).with_name("locale")
SOURCE = "en"
ZH = "zh_CN"
# What an office may write in [office] locale, and the catalog each means.
LOCALES: dict[str, str] = {
    "en": SOURCE, "en-us": SOURCE, "en-gb": SOURCE, "en_us": SOURCE, "en_gb": SOURCE,
    "zh": ZH, "zh-cn": ZH, "zh_cn": ZH, "zh-hans": ZH, "zh-hans-cn": ZH,
}


class Text:
    """A message not yet translated: the English id, its plural and count, its
    context (gettext's msgctxt: the same English that one language says two
    ways), and named parameters (which may be ``Text`` themselves: rendered in
    turn)."""

    __slots__ = ("context", "msgid", "n", "params", "plural")

    def __init__(self, msgid: str, params: Mapping[str, Any] | None = None, *,
                 plural: str | None = None, n: int | None = None,
                 context: str | None = None) -> None:
        self.msgid = msgid
        self.plural = plural
        self.n = n
        self.context = context
        self.params = dict(params or {})

    def render(self, tr: Translator) -> str:
        if self.plural is not None and self.n is not None:
            template = tr.catalog.ngettext(self.msgid, self.plural, self.n)
        elif self.context is not None:
            template = tr.catalog.pgettext(self.context, self.msgid)
        else:
            template = tr.catalog.gettext(self.msgid)
        params = {k: tr(v) if isinstance(v, Renderable) else v for k, v in self.params.items()}
        if self.n is not None:
            params.setdefault("n", self.n)
        try:
            return template.format(**params) if params or "{" in template else template
        except (KeyError, IndexError, ValueError):
            # A translation naming a parameter the code does not pass is a catalog
            # bug; the English still says what happened.
            return self.msgid.format(**params)

    def __str__(self) -> str:
        return self.render(ENGLISH)

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return (self.msgid, self.plural, self.n, self.context, self.params) == (
                other.msgid, other.plural, other.n, other.context, other.params)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)

    def __contains__(self, part: str) -> bool:
        return part in str(self)


@runtime_checkable
class Renderable(Protocol):
    """What a Translator shows: a ``Text``, a ``Label``, a ``Listing``."""

    def render(self, tr: Translator) -> str: ...


class Label:
    """A name given as data in both languages, not in the catalogs: a workflow's
    title, a state, a choice, a role (the workflow files and roles.toml say them).
    ``zh`` is the office's own word; ``en`` the English, when there is one."""

    __slots__ = ("en", "zh")

    def __init__(self, zh: str, en: str = "") -> None:
        self.zh = zh
        self.en = en or zh

    def render(self, tr: Translator) -> str:
        return self.zh if tr.chinese else self.en

    def __str__(self) -> str:
        return self.en

    def __repr__(self) -> str:
        return f"Label({self.zh!r}, {self.en!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Label):
            return (self.zh, self.en) == (other.zh, other.en)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.zh, self.en))


class Listing:
    """Several values in one message, joined as the reader writes them: "a, b"
    and 甲、乙; "a or b" and 甲或乙 (``"or"``); "a; b" and 甲；乙 (``"clauses"``)."""

    __slots__ = ("how", "items")
    SEPARATORS: ClassVar[dict[str, tuple[str, str]]] = {
        "and": (", ", "、"), "or": (" or ", "或"), "clauses": ("; ", "；"),
        "words": (" ", " "), "lines": ("\n", "\n")}

    def __init__(self, items: Any, how: str = "and") -> None:
        self.items = tuple(items)
        self.how = how

    def render(self, tr: Translator) -> str:
        english, chinese = self.SEPARATORS[self.how]
        return (chinese if tr.chinese else english).join(
            tr(item) if isinstance(item, Renderable) else str(item) for item in self.items)

    def __str__(self) -> str:
        return self.render(ENGLISH)

    def __repr__(self) -> str:
        return f"Listing({self.items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Listing):
            return (self.items, self.how) == (other.items, other.how)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.items)


def _(msgid: str, /, **params: Any) -> Text:
    """Mark a message for the catalogs; ``{name}`` placeholders take ``params``."""
    return Text(msgid, params)


def ngettext_(singular: str, plural: str, n: int, /, **params: Any) -> Text:
    """A message that depends on a count; ``{n}`` is the count."""
    return Text(singular, params, plural=plural, n=n)


def pgettext_(context: str, msgid: str, /, **params: Any) -> Text:
    """A message whose English is said two ways in another language: ``context``
    (gettext's msgctxt) tells the translations apart, ``pgettext_("person history",
    "BY")`` (操作人) and the plain ``N_("BY")`` (经办人)."""
    return Text(msgid, params, context=context)


def N_(msgid: str, /) -> str:
    """Mark a constant for extraction only (a table of labels); translate it
    later with ``tr.gettext``."""
    return msgid


class Role:
    """A role's code shown as the office names it (workflows/roles.toml): the
    Translator of the office knows the names (``Translator.with_roles``)."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def render(self, tr: Translator) -> str:
        label = tr.roles.get(self.code)
        return tr(label) if label is not None else self.code

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"Role({self.code!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Role) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)


class Translator:
    """One locale's catalog (and the office's names of its roles). Call it on a
    ``Text`` (or a plain str, shown as it is) to get what a person reads."""

    def __init__(self, locale: str, catalog: gettext.NullTranslations,
                 roles: Mapping[str, Label] | None = None) -> None:
        self.locale = locale
        self.catalog = catalog
        self.roles: Mapping[str, Label] = roles or {}

    def with_roles(self, roles: Mapping[str, Label]) -> Translator:
        """This locale, naming roles as the office does."""
        return Translator(self.locale, self.catalog, roles)

    def __call__(self, text: Renderable | str | float | None) -> str:
        if text is None:
            return ""
        if isinstance(text, Renderable):
            return text.render(self)
        return str(text)  # a plain value shows as it is

    def gettext(self, msgid: str) -> str:
        return self.catalog.gettext(msgid)

    @property
    def chinese(self) -> bool:
        return self.locale == ZH


def normalize(locale: str) -> str | None:
    """The catalog a locale names (``zh-CN``, ``zh_CN``, ``en``), or None."""
    return LOCALES.get(locale.strip().lower())


@lru_cache(maxsize=8)
def translator(locale: str) -> Translator:
    """The translator of ``locale``; catalogs are read once per process (they
    do not change while it runs)."""
    name = normalize(locale) or SOURCE
    if name == SOURCE:
        return Translator(SOURCE, gettext.NullTranslations())
    try:
        catalog: gettext.NullTranslations = gettext.translation(
            DOMAIN, localedir=LOCALE_DIR, languages=[name])
    except OSError:
        catalog = gettext.NullTranslations()
    return Translator(name, catalog)


ENGLISH = Translator(SOURCE, gettext.NullTranslations())


def people_time(instant: str) -> str:
    """An instant as the office writes it: ``2026-03-09 09:30`` for the ISO text
    ``2026-03-09T09:30:00+08:00`` the services give (already in the office's
    zone); any other text, a typed title that starts with a time included, as
    it is."""
    if _INSTANT.fullmatch(instant):
        return f"{instant[:10]} {instant[11:16]}"
    return instant


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?")
