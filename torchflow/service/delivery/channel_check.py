"""`channel test`: one test message by a channel, and the platform's answer in words.

The message goes where a notice would (a robot, a person's app account, an
e-mail, a URL), with the person @-mentioned on a robot, after the channel's
checks (its settings, secrets, address guard) and within the robot's shared
rate budget. A refusal says what the platform said and what to fix: a trusted
IP to add, a clock to set, a key or secret to check.
"""

from __future__ import annotations

import socket
from typing import Any

from torchflow.channels import CHANNEL_TYPES, Message, build_channel, channel_type, shown_address
from torchflow.clock import wall_clock
from torchflow.errors import ConfigError, DeliveryError, InvalidInput, Refused
from torchflow.i18n import _
from torchflow.service.app import App
from torchflow.service.delivery import gate
from torchflow.service.delivery.keys import idempotency_key
from torchflow.service.people.lookup import Actor, person_by_handle


def test_channel(app: App, actor: Actor, name: str, to: str | None = None) -> dict[str, Any]:
    """Send one test message by ``name`` ("wecom_robot" or "wecom_robot:pi_team")
    to ``to`` (a person's handle) or the channel's default; refused with the
    reason, in words, when it cannot be sent or the platform says no."""
    actor.authorize("channel.test")
    channel_name, _sep, robot = name.partition(":")
    if channel_name not in CHANNEL_TYPES:
        raise InvalidInput(_("channel {name} is unknown; use one of {names}", name=repr(name),
                             names=", ".join(CHANNEL_TYPES)))
    kind = channel_type(channel_name)
    with app.db.read() as s:
        person = person_by_handle(s, to) if to else None
    ids = dict(person.platform_ids or {}) if person is not None else {}
    address = robot or (kind.address_of(person) if person is not None else "")
    try:
        channel = build_channel(app.settings, channel_name)
    except ConfigError as exc:
        raise Refused(_("{channel} cannot be used: {why}", channel=channel_name,
                        why=exc.text)) from None
    try:
        return _send(app, channel, channel_name, address, to, ids)
    finally:
        channel.close()


def _send(app: App, channel: Any, name: str, address: str, to: str | None,
          ids: dict[str, str]) -> dict[str, Any]:
    problem = channel.problem(address)
    if problem is not None:
        raise Refused(_("{channel} cannot send to {address}: {why}", channel=name,
                        address=repr(shown_address(address)) if address
                        else _("its default address"), why=problem))
    wait = gate.take(app, channel, address)
    if wait:
        raise Refused(_("{channel} {address} has spent its rate budget; try again in "
                        "{seconds} s", channel=name, address=shown_address(address),
                        seconds=round(wait)))
    tr = app.tr
    now = wall_clock()
    message = Message(
        idempotency_key=idempotency_key(channel=name, address=address, test_at=now), kind="test",
        recipient=to or "", address=address,
        subject=tr(_("torchflow test message")),
        body=tr(_("A test from {host} at {time}: if you read this, notices by {channel} "
                  "reach you.", host=socket.gethostname(), time=app.local(now), channel=name)),
        payload={"test": True}, mentions=(ids,) if ids else ())
    try:
        channel.send(message)
    except DeliveryError as exc:
        raise Refused(_("{channel} test message not delivered: {why}", channel=name,
                        why=exc.text)) from None
    return {"channel": name, "address": shown_address(address), "to": to, "delivered": True,
            "answer": _("the platform took it (code 0)")}
