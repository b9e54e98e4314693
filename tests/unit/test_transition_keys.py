"""The transition keys a request loop needs, usable by any workflow: `when`
(choice values), `count` (a number field), `deadline_to` (a date field) and
`before_deadline` (working days), each checked with the file and key."""

from __future__ import annotations

from torchflow.domain.guards import guard_problems
from torchflow.domain.loader import check_text
from torchflow.i18n import ENGLISH

FILE = """\
name = "loop"
title = "诉求"
version = 1
key_prefix = "LP"
initial = "open"

[fields.mood]
type = "choice"
title = "满意度"
choices = [{ value = "happy", title = "满意" }, { value = "sad", title = "不满意" }]

[fields.redos]
type = "number"
title = "重办次数"

[fields.until]
type = "date"
title = "延期至"

[states.open]
title = "办理中"
deadline = { within = "7 workdays", escalate_to = "director" }

[states.done]
title = "办结"
terminal = true

[[transitions]]
trigger = "close"
source = "open"
dest = "done"
{extra}
"""


def problems(extra: str) -> list[str]:
    return check_text(FILE.replace("{extra}", extra), "loop.toml")[1]


def test_the_keys_are_read() -> None:
    spec, found = check_text(FILE.replace("{extra}", 'when = { mood = ["happy"] }\n'
                                          'count = "redos"\ndeadline_to = "until"\n'
                                          "before_deadline = 1"), "loop.toml")
    assert found == [] and spec is not None
    [t] = spec.transitions
    assert (t.when, t.count, t.deadline_to, t.before_deadline) == (
        (("mood", ("happy",)),), "redos", "until", 1)
    assert t.requires == ("until",)  # the date granted is needed to fire it


def test_each_key_is_checked_with_its_file_and_key() -> None:
    assert problems('when = { mood = "angry" }') == [
        "loop.toml: transitions[0].when.mood: values must be among its choices: happy, sad"]
    assert problems('when = { redos = 1 }') == [
        "loop.toml: transitions[0].when.redos: wants a choice field of this workflow"]
    assert problems('count = "mood"') == [
        "loop.toml: transitions[0].count: wants a number field, got 'mood'; number fields "
        "are: redos"]
    assert problems('deadline_to = "redos"') == [
        "loop.toml: transitions[0].deadline_to: wants a date field, got 'redos'; date fields "
        "are: until"]
    assert problems("before_deadline = -1") == [
        "loop.toml: transitions[0].before_deadline: wants a whole number of working days "
        "from 0 to 250, got -1"]


def test_when_stops_a_transition_in_words() -> None:
    spec, _ = check_text(FILE.replace("{extra}", 'when = { mood = ["happy"] }'), "loop.toml")
    assert spec is not None
    [t] = spec.transitions
    assert guard_problems(t, {"mood": "happy"}, (), spec.fields) == []
    [problem] = guard_problems(t, {"mood": "sad"}, (), spec.fields)
    assert ENGLISH(problem) == "'close' only when mood is happy"
    assert guard_problems(t, {}, (), spec.fields) != []
