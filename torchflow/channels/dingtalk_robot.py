"""DingTalk (钉钉) custom robot: ``POST {base}/robot/send?access_token=T&timestamp=MS&sign=S``.

``S = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{ms}\\n{secret}")))``, the
timestamp in milliseconds and within an hour of DingTalk's clock. Markdown with
``at.atMobiles`` (the mobile also written in the text, or DingTalk shows no @).
20 messages a minute per robot; over it, the robot is throttled for 10 minutes.
Provincial editions (浙政钉 and others) run on other hosts: ``base_url``.
See docs/channels.md for the sources.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import ClassVar
from urllib.parse import quote, quote_plus

from torchflow.channels.base import Message
from torchflow.channels.robots import THROTTLED, Code, RobotChannel, now_ms
from torchflow.channels.text import Layout
from torchflow.i18n import N_

MARKDOWN_BYTES = 18_000  # not documented; the sizes in use stay well under 20,000


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query value (already URL-encoded)."""
    signed = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingtalkRobot(RobotChannel):
    name = "dingtalk_robot"
    title = "DingTalk"
    base_url = "https://oapi.dingtalk.com"
    # Two spaces end a line in DingTalk's markdown; a bare newline may be joined.
    layout = Layout(max_bytes=MARKDOWN_BYTES, newline="  \n")
    codes: ClassVar = {
        310000: Code("fatal", N_("the robot refused the message's signature, keyword or this "
                                 "server's IP (its security settings): check ${secret}, the "
                                 "robot's keywords and trusted IPs; {skew}")),
        130101: Code("throttled", THROTTLED, wait=600.0),
        300001: Code("fatal", N_("the robot's access token is not valid: put it in ${token}")),
        -1: Code("transient", N_("the platform is busy; tried again later")),
    }

    def mention_text(self, message: Message) -> str:
        # DingTalk shows the @ only where the mobile is written in the text too.
        mobiles = message.ids("mobile")
        return "  \n" + " ".join(f"@{m}" for m in mobiles) if mobiles else ""

    def request(self, robot: str, text: str, message: Message, *, first: bool
                ) -> tuple[str, bytes]:
        url = f"{self.base}/robot/send?access_token={quote(self.tokens[robot], safe='')}"
        if self.secrets[robot]:
            stamp = now_ms(self.clock)
            url += f"&timestamp={stamp}&sign={sign(self.secrets[robot], stamp)}"
        body = {
            "msgtype": "markdown",
            "markdown": {"title": " ".join(message.subject.split())[:64],
                         "text": text + self.mention_text(message) if first else text},
            "at": {"atMobiles": message.ids("mobile") if first else [], "isAtAll": False},
        }
        return url, json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
