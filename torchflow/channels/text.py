"""A notice as a platform's markdown, within the platform's length limit.

Pure: text in, parts out. A notice longer than one message is split at line
ends into parts that each begin with their place ("1/3"); past ``max_parts``
the last part is cut and says how many lines were left out. Lengths are
counted in UTF-8 bytes, as the platforms count them (a Chinese character is 3).

Text people typed (a case title) is escaped so it cannot become markup: no
``<@all>``/``<at user_id="all">`` mention of a whole group, no link, no heading.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

from torchflow.i18n import ENGLISH, Translator, _

# Full-width look-alikes rather than backslashes, which not every platform's
# markdown subset honours: no tags (mentions <@x>, <at ...>, font colours), no
# links, no bold or code, no headings.
_ESCAPED = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "*": "＊", "`": "｀",
                          "#": "＃"})


def escape(text: str) -> str:
    """``text`` shown as it is in a platform's markdown."""
    return text.translate(_ESCAPED)


def size(text: str) -> int:
    return len(text.encode("utf-8"))


class Layout(Struct, frozen=True):
    """How one platform shows a notice: its byte limit per message, the line
    break its markdown keeps, and at most how many parts one notice may take."""

    max_bytes: int
    newline: str = "\n"
    max_parts: int = 5
    bold: bool = True  # the subject in **bold** (plain text platforms: False)


def lines_of(subject: str, body: str, layout: Layout) -> list[str]:
    """The notice's lines, escaped: the subject (bold), then the body's lines."""
    head = escape(" ".join(subject.split()))
    lines = [f"**{head}**" if layout.bold else head]
    return lines + [escape(line.rstrip()) for line in body.splitlines()]


def parts(lines: Sequence[str], layout: Layout, *, reserve: int = 0,
          tr: Translator = ENGLISH) -> list[str]:
    """``lines`` packed into messages of at most ``layout.max_bytes`` bytes
    (less ``reserve``, kept for mentions), each marked "i/n" when there are several,
    in the office's language (``tr``)."""
    room = layout.max_bytes - reserve
    chunks = _pack(list(lines), room - _marker_room(tr, layout), layout)
    if len(chunks) == 1:
        single = layout.newline.join(chunks[0])
        if size(single) <= room:
            return [single]
    if len(chunks) > layout.max_parts:
        chunks = _cut(chunks, layout, room - _marker_room(tr, layout), tr)
    count = len(chunks)
    return [layout.newline.join([tr(_("({i}/{n})", i=i, n=count)), *chunk])
            for i, chunk in enumerate(chunks, 1)]


def cut(lines: Sequence[str], layout: Layout, *, reserve: int = 0,
        tr: Translator = ENGLISH) -> str:
    """``lines`` in one message: as many as fit, then how many more there were."""
    room = layout.max_bytes - reserve
    kept: list[str] = []
    for i, line in enumerate(lines):
        more = tr(_("… and {n} more", n=len(lines) - i))
        if size(layout.newline.join([*kept, line, more])) > room:
            return layout.newline.join([*kept, more])
        kept.append(line)
    return layout.newline.join(kept)


def _marker_room(tr: Translator, layout: Layout) -> int:
    return size(tr(_("({i}/{n})", i=99, n=99))) + size(layout.newline)


def _pack(lines: list[str], room: int, layout: Layout) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    used = 0
    for line in (piece for whole in lines for piece in _pieces(whole, room)):
        extra = size(line) + (size(layout.newline) if chunks[-1] else 0)
        if chunks[-1] and used + extra > room:
            chunks.append([])
            used, extra = 0, size(line)
        chunks[-1].append(line)
        used += extra
    return chunks


def _pieces(line: str, room: int) -> list[str]:
    """A line longer than a whole message, cut at character boundaries."""
    if size(line) <= room:
        return [line]
    pieces, current = [], ""
    for char in line:
        if size(current + char) > room:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def _cut(chunks: list[list[str]], layout: Layout, room: int, tr: Translator
         ) -> list[list[str]]:
    """The first ``max_parts`` chunks, the last one ending with what was left out."""
    kept = chunks[:layout.max_parts]
    left = sum(len(c) for c in chunks[layout.max_parts:])
    last = kept[-1]
    while last:
        more = tr(_("… and {n} more lines", n=left))
        if size(layout.newline.join([*last, more])) <= room:
            kept[-1] = [*last, more]
            return kept
        left += 1
        last = last[:-1]
    kept[-1] = [tr(_("… and {n} more lines", n=left))]
    return kept
