"""Feishu / Lark (飞书) custom bot: ``POST {base}/open-apis/bot/v2/hook/TOKEN``.

``timestamp`` (seconds) and ``sign`` go in the body, with
``sign = base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))``: key and message
the other way round from DingTalk. A card with a markdown element (``<at
id=ou_...></at>`` mentions); the body at most 20 KB. 100 requests a minute and 5
a second per bot; Feishu asks senders to avoid the hour and the half hour, so
sends are jittered off :00 and :30 (service/delivery/gate.py). See docs/channels.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import ClassVar
from urllib.parse import quote

from torchflow.channels.base import Message
from torchflow.channels.robots import SIGNATURE, THROTTLED, Code, RobotChannel
from torchflow.channels.text import Layout
from torchflow.i18n import N_

BODY_BYTES = 20 * 1024
CARD_OVERHEAD = 1024  # the card's JSON around the text: title, tags, signature


def sign(secret: str, timestamp: int) -> str:
    """Feishu's ``sign``: HMAC-SHA256 keyed by "<timestamp>\\n<secret>" over nothing."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class FeishuRobot(RobotChannel):
    name = "feishu_robot"
    title = "Feishu"
    base_url = "https://open.feishu.cn"
    layout = Layout(max_bytes=BODY_BYTES - CARD_OVERHEAD)
    limits_per_robot = ((100, 60.0), (5, 1.0))
    busy_minutes = (0, 30)
    codes: ClassVar = {
        19021: Code("fatal", SIGNATURE),
        19022: Code("fatal", N_("the bot does not take requests from this server's IP: add it "
                                "to the bot's trusted IPs")),
        19024: Code("fatal", N_("the message lacks the bot's keyword: set the robot's keyword "
                                "in [notify.{channel}.robots.{robot}]")),
        11232: Code("throttled", THROTTLED, wait=60.0),
        9499: Code("fatal", N_("the platform refused the message as malformed")),
    }

    def mention_text(self, message: Message) -> str:
        users = message.ids("feishu")
        return "\n" + " ".join(f"<at id={u}></at>" for u in users) if users else ""

    def request(self, robot: str, text: str, message: Message, *, first: bool
                ) -> tuple[str, bytes]:
        url = f"{self.base}/open-apis/bot/v2/hook/{quote(self.tokens[robot], safe='')}"
        content = text + self.mention_text(message) if first else text
        body: dict[str, object] = {
            "msg_type": "interactive",
            "card": {"header": {"title": {"tag": "plain_text",
                                          "content": " ".join(message.subject.split())[:100]}},
                     "elements": [{"tag": "markdown", "content": content}]},
        }
        if self.secrets[robot]:
            stamp = int(self.clock().timestamp())
            body.update(timestamp=str(stamp), sign=sign(self.secrets[robot], stamp))
        return url, json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
