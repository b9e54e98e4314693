"""WeCom (企业微信) group robot: ``POST {base}/cgi-bin/webhook/send?key=KEY``.

No signature: the key in the URL is the secret. Markdown (4,096 bytes) with
``<@userid>`` to @-mention someone; a person known only by mobile number is
mentioned through a text message (2,048 bytes, ``mentioned_mobile_list``).
20 messages a minute per robot; over it, errcode 45009 and a pause.
See docs/channels.md for the sources.
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
        93004: Code("fatal", N_("the robot is switched off in its group: switch it on")),
        93008: Code("fatal", N_("the robot is not in its group any more: add it again and "
                                "put the new key in ${token}")),
        40008: Code("fatal", N_("the message type was refused")),
        44004: Code("fatal", N_("the message was empty")),
        -1: Code("transient", N_("the platform is busy; tried again later")),
    }

    def render(self, message: Message) -> list[str]:
        if self._by_mobile(message):
            lines = lines_of(message.subject, message.body, self.text_layout)
            return fit(lines, self.text_layout, message)
        return super().render(message)

    def mention_text(self, message: Message) -> str:
        if self._by_mobile(message):
            return ""  # mentioned_list and mentioned_mobile_list, outside the text
        return "".join(f"\n<@{user}>" for user in message.ids("wecom"))

    def request(self, robot: str, text: str, message: Message, *, first: bool
                ) -> tuple[str, bytes]:
        url = f"{self.base}/cgi-bin/webhook/send?key={quote(self.tokens[robot], safe='')}"
        if self._by_mobile(message):
            mentions = {"mentioned_list": message.ids("wecom"),
                        "mentioned_mobile_list": [m.get("mobile", "") for m in message.mentions
                                                  if not m.get("wecom") and m.get("mobile")]}
            body = {"msgtype": "text", "text": {"content": text, **(mentions if first else {})}}
        else:
            content = text + self.mention_text(message) if first else text
            body = {"msgtype": "markdown", "markdown": {"content": content}}
        return url, json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @staticmethod
    def _by_mobile(message: Message) -> bool:
        """Someone known only by mobile number: markdown cannot @ them (only
        ``<@userid>``), a text message can (``mentioned_mobile_list``)."""
        return any(not m.get("wecom") and m.get("mobile") for m in message.mentions)
