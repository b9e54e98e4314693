"""The office's schedule file of a year, as a template to fill in
(`torchflow calendar template YEAR`): the statutory holidays the regulation
fixes are typed in, with their names; the days in lieu, the worked weekend days
and the notice itself are left to the person who has the State Council's
notice. Made from the code, not copied from a file, so an installed torchflow
writes it without a source checkout; its comments are in the office's language."""

from __future__ import annotations

import textwrap

from torchflow.domain.calendar import statutory_holidays
from torchflow.errors import InvalidInput
from torchflow.i18n import Translator, _


def schedule_file(year: int) -> str:
    """Where the office keeps the schedule of ``year`` (docs/calendar.md)."""
    return f"calendars/cn-{year}.toml"


def schedule_template(year: int, tr: Translator) -> str:
    """The TOML text of the template for ``year``; refused (the file unusable
    until filled in) while its ``source`` is empty."""
    if not 2000 <= year <= 9998:
        raise InvalidInput(_("year {year} is out of range; give a year such as 2027", year=year))
    path = schedule_file(year)
    days = statutory_holidays(year, "zh_CN" if tr.chinese else "en_US")
    comment = [
        *_comment(tr(_("TEMPLATE, not yet the official working-day schedule of {year}.",
                       year=year))),
        "#",
        *_comment(tr(_("When the State Council publishes the holiday notice of {year} "
                       "(usually in November of the year before) and the installed holidays "
                       "library does not carry the year yet, save this file as {path}, type "
                       "in the notice, and list the file in config.toml:",
                       year=year, path=path))),
        "#", "#   [calendar]", f'#   official = ["{path}"]', "#",
        *_comment(tr(_("Then run `torchflow calendar check` and `torchflow calendar show "
                       "{year}`. A later holidays release that carries the year wins over "
                       "this file.", year=year))),
    ]
    width = max((len(d.isoformat()) for d in days), default=10) + 1
    body = [
        "",
        f"year = {year}",
        "",
        *_comment(tr(_("The notice: its title, number and web address. Empty on purpose: "
                       "the file is refused until the real notice is typed in."))),
        'source = ""',
        "",
        *_comment(tr(_("Every day off the notice lists: the statutory holidays below, which "
                       "the national holiday regulation fixes, and the weekdays the notice "
                       "gives off in exchange or in lieu, which are NOT typed in yet."))),
        "days_off = [",
        *(f"    {(d.isoformat() + ','):<{width}}  # {name}" for d, name in sorted(days.items())),
        "]",
        "",
        *_comment(tr(_("The Saturdays and Sundays the notice makes working days (about 5 or "
                       "6 a year)."))),
        "worked_weekends = []",
        "",
    ]
    return "\n".join(comment + body)


def _comment(text: str) -> list[str]:
    # Chinese has no spaces to break at: a Chinese paragraph stays one line.
    return ["# " + line for line in textwrap.wrap(text, 78, break_long_words=False)]
