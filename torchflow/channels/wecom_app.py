"""WeCom (企业微信) app message: a person's own notice, from the office's app.

The corp id and the app's secret give an ``access_token`` (valid 7,200 s; kept
and renewed a little before it runs out, or at once when WeCom calls it
invalid), then ``POST {base}/cgi-bin/message/send?access_token=T`` with
``touser`` (the person's WeCom user id) and ``agentid``. Per member at most 30
a minute and 1,000 an hour: WeCom drops the excess silently (errcode 0), so the
budgets here are the only guard. ``enable_duplicate_check`` makes WeCom drop a
byte-identical request within ``duplicate_check_interval``: a resend after a
crash reaches the person once. Apps made since 2022 take calls only from their
trusted IPs (errcode 60020, which names the IP to add). See docs/channels.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from msgspec import Struct

from torchflow.channels.base import Message, read_plain
from torchflow.channels.guard import HostPolicy
from torchflow.channels.http import Answer, HttpClient
from torchflow.channels.robots import THROTTLED, Code, Limit, fit
from torchflow.channels.text import Layout, lines_of
from torchflow.clock import wall_clock
from torchflow.config import Rule, Section, Settings
from torchflow.errors import ConfigError, DeliveryError
from torchflow.i18n import ENGLISH, N_, Text, Translator, _, translator

USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MARKDOWN_BYTES = 2048
TOKEN_MARGIN = timedelta(minutes=5)  # renew this long before WeCom says it ends


class WecomAppSettings(Struct, frozen=True):
    base_url: str = "https://qyapi.weixin.qq.com"
    corp_id: str = ""
    agent_id: int = 0
    secret_env: str = "TORCHFLOW_WECOM_APP_SECRET"
    msgtype: str = "markdown"  # "text" for members who read in WeChat, not WeCom
    duplicate_check_seconds: int = 1800
    timeout_seconds: float = 10.0


RULES: dict[str, Rule] = {
    "base_url": ("text", 1, 300), "corp_id": ("text", 1, 64), "agent_id": ("count", 1, 2**31),
    "secret_env": ("text", 1, 255), "msgtype": ("text", 1, 16),
    "duplicate_check_seconds": ("count", 1, 4 * 3600), "timeout_seconds": ("seconds", 0.1, 3600),
}

CODES: Mapping[int, Code] = {
    45009: Code("throttled", THROTTLED, wait=60.0),
    60020: Code("fatal", N_("WeCom takes this app's calls only from its trusted IPs: add "
                            "this server's address to the app's trusted IPs ({said})")),
    40001: Code("fatal", N_("the app's secret is not valid: put it in ${secret}")),
    40013: Code("fatal", N_("the corp id is not valid: check [notify.wecom_app] corp_id")),
    40056: Code("fatal", N_("the agent id is not valid: check [notify.wecom_app] agent_id")),
    301002: Code("fatal", N_("the app may not message this member")),
    -1: Code("transient", N_("the platform is busy; tried again later")),
}
EXPIRED = {40014, 42001}  # the access token: fetch a new one and send again at once
UNKNOWN_USER = {40003, 81013}  # the person's user id: their address, refused for good


class WecomApp:
    name = "wecom_app"
    dedup = True  # enable_duplicate_check: WeCom drops a byte-identical resend
    title = "WeCom"
    limits_per_member: ClassVar[tuple[tuple[int, float], ...]] = ((30, 60.0), (1000, 3600.0))
    busy_minutes: ClassVar[tuple[int, ...]] = (0, 30)  # WeCom: most apps send at :00 and :30

    def __init__(self, settings: WecomAppSettings, secret: str, hosts: HostPolicy,
                 tr: Translator = ENGLISH) -> None:
        self.settings, self.secret = settings, secret
        self.tr = tr  # the office's language, for the parts' marks
        self.http = HttpClient(hosts, settings.timeout_seconds, what=self.name)
        self.layout = Layout(max_bytes=MARKDOWN_BYTES, bold=settings.msgtype == "markdown")
        self.clock = wall_clock
        self._token: tuple[str, Any] | None = None  # (token, wall-clock expiry)

    @staticmethod
    def read_settings(section: Section, base: Path) -> WecomAppSettings:
        settings: WecomAppSettings = read_plain(section, WecomAppSettings, RULES)
        if settings.msgtype not in ("markdown", "text"):
            raise section.fail("msgtype", "markdown or text")
        return settings

    @classmethod
    def from_settings(cls, settings: Settings) -> WecomApp:
        app = settings.notify.of(cls.name, WecomAppSettings)
        if not app.corp_id or not app.agent_id:
            raise ConfigError(_("wecom_app: set [notify.wecom_app] corp_id and agent_id (the "
                                "app's page in the WeCom admin console shows both)"))
        secret = os.environ.get(app.secret_env, "")
        if not secret:
            raise ConfigError(_("wecom_app: no secret in ${env}; set it to the app's Secret",
                                env=app.secret_env))
        hosts = HostPolicy.allowing(settings.notify.allow_hosts)
        if (problem := hosts.url_problem(app.base_url)) is not None:
            raise ConfigError(_("[notify.wecom_app] base_url {url} {problem}",
                                url=app.base_url, problem=problem))
        return cls(app, secret, hosts, tr=translator(settings.office.locale))

    @staticmethod
    def address_of(person: Any) -> str:
        ids = getattr(person, "platform_ids", None) or {}
        return str(person.address or ids.get("wecom", ""))

    @staticmethod
    def address_problem(settings: Settings, address: str) -> Text | None:
        if USER_ID.fullmatch(address):
            return None
        return _("{address} is not a WeCom user id (letters, digits, _ . @ -; the member's "
                 "account in the WeCom admin console)", address=repr(address))

    def problem(self, address: str) -> Text | None:
        if not address:
            return _("wecom_app needs the person's WeCom user id: set it with `torchflow "
                     "person edit HANDLE --wecom-id ID`")
        return None

    def limits(self, address: str) -> list[Limit]:
        key = f"{self.name}:{address}"
        return [Limit(key if i == 0 else f"{key}:{i}", count, seconds)
                for i, (count, seconds) in enumerate(self.limits_per_member)]

    def cost(self, message: Message) -> int:
        return len(self.render(message))

    def render(self, message: Message) -> list[str]:
        return fit(lines_of(message.subject, message.body, self.layout), self.layout, message,
                   tr=self.tr)

    def send(self, message: Message) -> None:
        self.send_parts(message, 0)

    def send_parts(self, message: Message, start: int, done: Any = None) -> None:
        if not message.address:
            raise DeliveryError(self.problem("") or "", fatal=True)
        pieces = self.render(message)
        for i in range(start, len(pieces)):
            self._send_one(message.address, self.body(message.address, pieces[i]))
            if done is not None and i + 1 < len(pieces):
                done(i + 1)  # the last part's record is the notice's mark

    def body(self, user: str, text: str) -> bytes:
        """Byte for byte the same for the same part: WeCom's duplicate check
        compares the request's JSON."""
        kind = self.settings.msgtype
        return json.dumps({
            "touser": user, "agentid": self.settings.agent_id, "msgtype": kind,
            kind: {"content": text}, "enable_duplicate_check": 1,
            "duplicate_check_interval": self.settings.duplicate_check_seconds,
        }, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def close(self) -> None:
        self.http.close()

    def _send_one(self, user: str, body: bytes) -> None:
        for fresh in (False, True):
            url = (f"{self.settings.base_url}/cgi-bin/message/send?access_token="
                   f"{quote(self.access_token(fresh), safe='')}")
            answer = self.http.post(url, body, {"Content-Type": "application/json"})
            code = answer.json().get("errcode")
            if code in EXPIRED and not fresh:
                continue
            self.judge(answer, user)
            return

    def access_token(self, fresh: bool = False) -> str:
        """The app's access token, fetched once per 7,200 s (or when WeCom says
        it is no longer valid)."""
        now = self.clock()
        if self._token is not None and not fresh and now < self._token[1]:
            return self._token[0]
        url = (f"{self.settings.base_url}/cgi-bin/gettoken?corpid="
               f"{quote(self.settings.corp_id, safe='')}&corpsecret={quote(self.secret, safe='')}")
        answer = self.http.request("GET", url)
        doc = answer.json()
        token = doc.get("access_token")
        if answer.status != 200 or doc.get("errcode", 0) != 0 or not isinstance(token, str):
            self.judge(answer, "")
            raise DeliveryError(_("WeCom gave no access token ({status})", status=answer.status))
        seconds = doc.get("expires_in", 7200)
        self._token = (token, now + timedelta(seconds=int(seconds)) - TOKEN_MARGIN)
        return token

    def judge(self, answer: Answer, user: str) -> None:
        doc = answer.json()
        code, said = doc.get("errcode"), str(doc.get("errmsg", ""))[:200]
        if answer.status != 200:
            raise DeliveryError(_("WeCom answered {status} {reason}", status=answer.status,
                                  reason=answer.reason))
        invalid = str(doc.get("invaliduser", ""))
        if code == 0 and user.lower() not in invalid.lower().split("|"):
            return
        if code in UNKNOWN_USER or code == 0:
            raise DeliveryError(_("WeCom does not know user id {user}, or the member is outside "
                                  "the app's visible range: check `person edit --wecom-id` and "
                                  "the app's visible range", user=user), permanent=True)
        known = CODES.get(code) if isinstance(code, int) else None
        if known is None:
            raise DeliveryError(_("WeCom refused the app message: {code} {said}", code=code,
                                  said=said))
        words = Text(known.words, {"said": said, "secret": self.settings.secret_env})
        text = _("WeCom app: {code}: {words}", code=code, words=words)
        if known.kind == "throttled":
            raise DeliveryError(text, retry_after=known.wait)
        raise DeliveryError(text, fatal=known.kind == "fatal")
