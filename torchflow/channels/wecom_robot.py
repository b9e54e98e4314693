"""WeCom (企业微信) group robot (消息推送, formerly 群机器人):
``POST {base}/cgi-bin/webhook/send?key=KEY``.

No signature: the key in the URL is the secret. Markdown (4,096 bytes) for a
notice with nobody to @-mention; a text message (2,048 bytes) with
``mentioned_list`` (user ids) and ``mentioned_mobile_list`` (mobile numbers)
when it @-mentions someone, as only text messages take those lists. 20
messages a minute per robot. See docs/channels.md for the sources.
"""

from __future__ import annotations

import json
from typing import ClassVar
from urllib.parse import quote

from torchflow.channels.base import Message
from torchflow.channels.robots import THROTTLED, Code, RobotChannel, fit
from torchflow.channels.text import Layout, lines_of
from torchflow.i18n import N_

MARKDOWN_BYTES = 4096
TEXT_BYTES = 2048


class WecomRobot(RobotChannel):
    name = "wecom_robot"
    title = "WeCom"
    signed = False
    base_url = "https://qyapi.weixin.qq.com"
    layout = Layout(max_bytes=MARKDOWN_BYTES)
    text_layout: ClassVar = Layout(max_bytes=TEXT_BYTES, bold=False)
    codes: ClassVar = {
        45009: Code("throttled", THROTTLED, wait=60.0),
        93000: Code("fatal", N_("the robot's key is not valid, or the robot was removed from "
                                "its group: put its webhook key in ${token}")),
        40008: Code("fatal", N_("the message type was refused")),
        44004: Code("fatal", N_("the message was empty")),
        -1: Code("transient", N_("the platform is busy; tried again later")),
    }

    def render(self, message: Message) -> list[str]:
        if any(self._mentions(message)):
            return fit(lines_of(message.subject, message.body, self.text_layout),
                       self.text_layout, message, tr=self.tr)
        return super().render(message)

    def request(self, robot: str, text: str, message: Message, *, first: bool
                ) -> tuple[str, bytes]:
        url = f"{self.base}/cgi-bin/webhook/send?key={quote(self.tokens[robot], safe='')}"
        users, mobiles = self._mentions(message)
        if users or mobiles:
            mentions = {"mentioned_list": users, "mentioned_mobile_list": mobiles}
            body = {"msgtype": "text", "text": {"content": text, **(mentions if first else {})}}
        else:
            body = {"msgtype": "markdown", "markdown": {"content": text}}
        return url, json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @staticmethod
    def _mentions(message: Message) -> tuple[list[str], list[str]]:
        """(user ids, mobiles of those known only by mobile) to @-mention."""
        users = message.ids("wecom")
        mobiles = [m["mobile"] for m in message.mentions if not m.get("wecom") and m.get("mobile")]
        return users, mobiles
