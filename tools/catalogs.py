"""The message catalogs, re-extracted and compiled in one command:

    python -m tools.catalogs          # extract, merge into each .po, compile each .mo
    python -m tools.catalogs --check  # exit 1 if a .po or .mo is not up to date

Babel reads the ids from the calls to ``_``, ``ngettext_``, ``pgettext_`` and ``N_`` under
torchflow/ (and ``_``/``ngettext`` in the Jinja2 templates); each locale's
``torchflow/locale/<lang>/LC_MESSAGES/torchflow.po`` keeps its translations, new
ids arrive untranslated, ids no longer in the code are dropped. docs/i18n.md says
how a developer adds a message. The tests (tests/unit/test_catalogs.py) use the
same functions, so what they check is what this writes.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "torchflow"
LOCALE_DIR = PACKAGE / "locale"
DOMAIN = "torchflow"
LOCALES = ("zh_CN",)
# The marking functions of torchflow.i18n: the argument positions of the ids.
KEYWORDS = {"_": None, "N_": None, "ngettext_": (1, 2), "ngettext": (1, 2),
            "pgettext_": ((1, "c"), 2)}
METHOD_MAP = [("**.py", "python"), ("**/templates/**.j2", "jinja2")]
OPTIONS_MAP = {"**/templates/**.j2": {"extensions": "jinja2.ext.i18n", "encoding": "utf-8"}}
WIDTH = 100
HEADER = ("# The Chinese of torchflow's messages. Add a message in the code, run\n"
          "# `python -m tools.catalogs`, translate here, run it again (docs/i18n.md).")


def extract() -> Catalog:
    """Every message id marked under torchflow/, with where it is used."""
    catalog = Catalog(project="torchflow", domain=DOMAIN, charset="utf-8",
                      msgid_bugs_address="", copyright_holder="torchflow")
    found: Iterator = extract_from_dir(str(PACKAGE), METHOD_MAP, OPTIONS_MAP,
                                       keywords=KEYWORDS, comment_tags=("i18n:",),
                                       strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        path = (PACKAGE / filename).relative_to(ROOT).as_posix()
        catalog.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="torchflow", charset="utf-8",
                       fuzzy=False, header_comment=HEADER, copyright_holder="torchflow",
                       msgid_bugs_address="", last_translator="torchflow",
                       language_team="torchflow")
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def merged(locale: str, template: Catalog) -> Catalog:
    """The locale's catalog with exactly the template's ids: translations kept,
    new ids empty, gone ids dropped (no fuzzy guesses: a guess is not a translation)."""
    catalog = read(locale)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return catalog


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    # Files but not line numbers: a line moved elsewhere in the code changes no .po.
    write_po(out, catalog, width=WIDTH, omit_header=False, sort_output=False,
             ignore_obsolete=True, include_previous=False, include_lineno=False)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    """The compiled catalog; fuzzy entries are left out, as gettext would."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.catalogs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a catalog is out of date")
    args = parser.parse_args(argv)
    template = extract()
    stale = []
    for locale in LOCALES:
        catalog = merged(locale, template)
        po, mo = po_path(locale), po_path(locale).with_suffix(".mo")
        po_text = po_bytes(catalog)
        untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
        if args.check:
            # The .mo against the .po as stored: a fresh extraction's header has
            # today's date, which a .po with the same messages is not rewritten for.
            if (not po.exists() or _body(po.read_bytes()) != _body(po_text)
                    or not mo.exists() or mo.read_bytes() != mo_bytes(read(locale))):
                stale.append(str(po.relative_to(ROOT)))
        else:
            po.parent.mkdir(parents=True, exist_ok=True)
            if not po.exists() or _body(po.read_bytes()) != _body(po_text):
                po.write_bytes(po_text)
            mo.write_bytes(mo_bytes(read(locale)))
        print(f"{locale}: {len(catalog)} messages, {len(untranslated)} to translate")
        for msgid in untranslated[:50]:
            print(f"  {msgid!r}")
    if stale:
        print("out of date (run python -m tools.catalogs): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def _body(po: bytes) -> bytes:
    # The header's creation and revision dates change on every run; the rest is the catalog.
    return b"\n".join(line for line in po.splitlines()
                      if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date',
                                              b'"Generated-By')))


if __name__ == "__main__":
    raise SystemExit(main())
