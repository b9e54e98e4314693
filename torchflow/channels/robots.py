"""What the three group robots (WeCom, DingTalk, Feishu) share.

Each platform's module says how it signs, shapes a body and reads an answer;
this one reads their ``[notify.NAME]`` table (the base URL, which government
editions change; the robots by name, each robot's token and secret from the
environment), checks addresses (a robot's name), counts the requests a notice
takes and turns the platform's error code into success, throttling (wait the
platform's window), a fault in the set-up (dies at once, saying what to fix) or
a transient failure (retried with backoff).

Every platform answers HTTP 200 with a non-zero code when it refuses: success
is status 200 and code 0, nothing less.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from msgspec import Struct, field

from torchflow.channels.base import Message
from torchflow.channels.guard import HostPolicy
from torchflow.channels.http import Answer, HttpClient, origin
from torchflow.channels.text import Layout, cut, escape, lines_of, parts, size
from torchflow.clock import wall_clock
from torchflow.config import Rule, Section, Settings
from torchflow.errors import ConfigError, DeliveryError
from torchflow.i18n import ENGLISH, N_, Text, Translator, _, translator

ROBOT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SKEW_HINT = 50 * 60  # a signed timestamp is refused an hour off: warn well before


class Robot(Struct, frozen=True):
    """One robot of one group: its token (WeCom's key, DingTalk's access_token,
    Feishu's hook id) and signing secret, each in an environment variable."""

    token_env: str
    secret_env: str = ""
    keyword: str = ""  # a robot secured by keyword: put this word in every message


class RobotSettings(Struct, frozen=True):
    base_url: str = ""
    default_robot: str = ""  # a person on this channel with no address uses it
    timeout_seconds: float = 10.0
    allow_unsigned: bool = False  # robots secured by keyword or trusted IP only
    robots: Mapping[str, Robot] = field(default_factory=lambda: MappingProxyType({}))


RULES: dict[str, Rule] = {
    "base_url": ("text", 1, 300), "default_robot": ("text", 1, 32),
    "timeout_seconds": ("seconds", 0.1, 3600), "allow_unsigned": ("bool", 0, 0),
}
ROBOT_RULES: dict[str, Rule] = {
    "token_env": ("text", 1, 255), "secret_env": ("text", 1, 255), "keyword": ("text", 1, 64),
}


class Code(Struct, frozen=True):
    """What one of a platform's error codes means for a notice."""

    kind: str  # "throttled", "fatal" (the set-up: fix it) or "transient"
    words: str  # N_() message: what it means and what to fix
    wait: float = 0.0  # throttled: seconds until the platform takes sends again


class Limit(Struct, frozen=True):
    """At most ``count`` requests per ``seconds`` to one budget key."""

    key: str
    count: int
    seconds: float


class RobotChannel:
    """A group robot; subclasses give the platform's particulars."""

    name: ClassVar[str]
    title: ClassVar[str]  # the platform as people name it, in errors
    dedup: ClassVar[bool] = False  # no platform drops a robot's resend
    paced: ClassVar[bool] = True  # one budget per robot, shared by its group's notices
    signed: ClassVar[bool] = True  # needs a signing secret (else allow_unsigned)
    base_url: ClassVar[str]
    layout: ClassVar[Layout]
    limits_per_robot: ClassVar[tuple[tuple[int, float], ...]] = ((20, 60.0),)
    codes: ClassVar[Mapping[int, Code]] = {}
    # Minutes past the hour when the platform is busiest (sends are jittered off them).
    busy_minutes: ClassVar[tuple[int, ...]] = ()

    def __init__(self, settings: RobotSettings, hosts: HostPolicy,
                 env: Mapping[str, str] | None = None, tr: Translator = ENGLISH) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.tr = tr  # the office's language, for the parts' marks
        self.base = settings.base_url or self.base_url
        self.robots = settings.robots
        self.tokens = {name: env.get(r.token_env, "") for name, r in self.robots.items()}
        self.secrets = {name: env.get(r.secret_env, "") if r.secret_env else ""
                        for name, r in self.robots.items()}
        self.http = HttpClient(hosts, settings.timeout_seconds, what=self.name)
        self.clock = wall_clock  # real time: the platform checks signed stamps with its own

    # ------------------------------------------------------------------ the type

    @classmethod
    def read_settings(cls, section: Section, base: Path) -> RobotSettings:
        section.only([*RULES, "robots"])
        values = section.read(RULES)
        robots = section.section("robots")
        found = {}
        for robot in robots.data:
            if not ROBOT_NAME.fullmatch(robot):
                raise robots.fail(robot, "a table named like office or pi_team "
                                         "(lower-case letters, digits, _ or -)")
            table = robots.section(robot, list(ROBOT_RULES))
            defaults = cls.env_names(robot)
            found[robot] = Robot(**{**defaults, **table.read(ROBOT_RULES)})
        settings = RobotSettings(**values, robots=MappingProxyType(found))
        if settings.default_robot and settings.default_robot not in found:
            raise section.fail("default_robot", "the name of one of its [robots] tables")
        return settings

    @classmethod
    def env_names(cls, robot: str) -> dict[str, str]:
        """Where a robot's token and secret are read from unless its table says."""
        stem = f"TORCHFLOW_{cls.name.upper()}_{robot.upper().replace('-', '_')}"
        return {"token_env": f"{stem}_TOKEN", **({"secret_env": f"{stem}_SECRET"}
                                                  if cls.signed else {})}

    @classmethod
    def from_settings(cls, settings: Settings) -> RobotChannel:
        robots = settings.notify.of(cls.name, RobotSettings)
        hosts = HostPolicy.allowing(settings.notify.allow_hosts)
        url = robots.base_url or cls.base_url
        if (problem := hosts.url_problem(url)) is not None:
            raise ConfigError(_("[notify.{name}] base_url {url} {problem}", name=cls.name,
                                url=url, problem=problem))
        return cls(robots, hosts, tr=translator(settings.office.locale))

    @staticmethod
    def address_of(person: Any) -> str:
        return str(person.address or "")  # a robot's name; "" = the default robot

    @classmethod
    def address_problem(cls, settings: Settings, address: str) -> Text | None:
        robots = settings.notify.of(cls.name, RobotSettings).robots
        if address in robots:
            return None
        return _("{channel} has no robot named {robot}; give one of: {names} "
                 "(the [notify.{channel}.robots] tables)", channel=cls.name,
                 robot=repr(address), names=", ".join(robots) or "none yet")

    # ------------------------------------------------------------------ the channel

    def robot_of(self, address: str) -> str:
        return address or self.settings.default_robot

    def problem(self, address: str) -> Text | None:
        robot = self.robot_of(address)
        if not robot:
            return _("{channel} needs a robot: give --address ROBOT or set "
                     "[notify.{channel}] default_robot", channel=self.name)
        if robot not in self.robots:
            return _("{channel} has no robot named {robot}; give one of: {names}",
                     channel=self.name, robot=repr(robot), names=", ".join(self.robots)
                     or "none yet")
        if not self.tokens[robot]:
            return _("{channel} robot {robot} has no token: set ${env}", channel=self.name,
                     robot=robot, env=self.robots[robot].token_env)
        if self.signed and not self.secrets[robot] and not self.settings.allow_unsigned:
            return _("{channel} robot {robot} has no signing secret: set ${env}, or set "
                     "[notify.{channel}] allow_unsigned = true if the robot is secured by "
                     "keyword or trusted IP", channel=self.name, robot=robot,
                     env=self.robots[robot].secret_env)
        return None

    def limits(self, address: str) -> list[Limit]:
        key = f"{self.name}:{self.robot_of(address)}"
        return [Limit(key if i == 0 else f"{key}:{i}", count, seconds)
                for i, (count, seconds) in enumerate(self.limits_per_robot)]

    def cost(self, message: Message) -> int:
        return len(self.render(message))

    def render(self, message: Message) -> list[str]:
        """The notice's text, in parts that each fit one message."""
        robot = self.robot_of(message.address)
        lines = lines_of(message.subject, message.body, self.layout)
        keyword = self.robots[robot].keyword if robot in self.robots else ""
        if keyword and not any(keyword in line for line in lines):
            lines[0] = f"{lines[0]} {escape(keyword)}"
        return fit(lines, self.layout, message, reserve=self.mention_room(message), tr=self.tr)

    def send(self, message: Message) -> None:
        self.send_parts(message, 0)

    def send_parts(self, message: Message, start: int,
                   done: Callable[[int], None] | None = None) -> None:
        """Send the parts from ``start`` on; ``done(i)`` is called after part i."""
        robot = self.robot_of(message.address)
        if (problem := self.problem(message.address)) is not None:
            raise DeliveryError(problem, fatal=True)
        pieces = self.render(message)
        for i in range(start, len(pieces)):
            url, body = self.request(robot, pieces[i], message, first=i == 0)
            self.judge(robot, self.http.post(url, body, {
                "Content-Type": "application/json; charset=utf-8"}), url)
            if done is not None and i + 1 < len(pieces):
                done(i + 1)  # the last part's record is the notice's mark

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ per platform

    def request(self, robot: str, text: str, message: Message, *, first: bool
                ) -> tuple[str, bytes]:
        raise NotImplementedError

    def mention_room(self, message: Message) -> int:
        """Bytes the first part keeps free for the @-mentions."""
        return size(self.mention_text(message))

    def mention_text(self, message: Message) -> str:
        """What the first part ends with to @-mention the people ("" for none)."""
        return ""

    def error_code(self, answer: Answer) -> int | None:
        doc = answer.json()
        code = doc.get("errcode", doc.get("code", doc.get("StatusCode")))
        return code if isinstance(code, int) else None

    def error_text(self, answer: Answer) -> str:
        doc = answer.json()
        return str(doc.get("errmsg", doc.get("msg", doc.get("StatusMessage", ""))))[:200]

    def judge(self, robot: str, answer: Answer, url: str) -> None:
        """Return when the platform took it (HTTP 200 and code 0); else raise
        DeliveryError saying what happened and what to fix."""
        code = self.error_code(answer)
        if answer.status == 200 and code == 0:
            return
        if answer.status != 200:
            what = _("{title} {url} answered {status} {reason}", title=self.title,
                     url=origin(url), status=answer.status, reason=answer.reason)
            raise DeliveryError(what, retry_after=60.0 if answer.status == 429 else None)
        known = self.codes.get(code) if code is not None else None
        said = self.error_text(answer)
        if known is None:
            raise DeliveryError(_("{title} robot {robot} refused the notice: {code} {said}",
                                  title=self.title, robot=robot, code=code, said=said))
        words = Text(known.words, {"robot": robot, "channel": self.name, "said": said,
                                   "token": self.robots[robot].token_env,
                                   "secret": self.robots[robot].secret_env,
                                   "skew": self.skew(answer)})
        text = _("{title} robot {robot}: {code} {said}: {words}", title=self.title,
                 robot=robot, code=code, said=said, words=words)
        if known.kind == "throttled":
            raise DeliveryError(text, retry_after=known.wait)
        raise DeliveryError(text, fatal=known.kind == "fatal")

    def skew(self, answer: Answer) -> Text:
        """How far this server's clock is from the platform's, when it matters."""
        if answer.date is None:
            return _("check this server's clock")
        off = (self.clock() - answer.date.astimezone(UTC)).total_seconds()
        if abs(off) < SKEW_HINT:
            return _("this server's clock is right")
        return _("this server's clock is {minutes} minutes {way}; signed timestamps are "
                 "refused an hour off: set the time (NTP)", minutes=round(abs(off) / 60),
                 way=_("fast") if off > 0 else _("slow"))


def fit(lines: list[str], layout: Layout, message: Message, reserve: int = 0,
        tr: Translator = ENGLISH) -> list[str]:
    """The lines in parts; a folded backlog in one message, cut with the rest
    counted; the marks in the office's language (``tr``)."""
    if message.payload.get("fold"):
        return [cut(lines, layout, reserve=reserve, tr=tr)]
    return parts(lines, layout, reserve=reserve, tr=tr)


def now_ms(clock: Any = wall_clock) -> int:
    when: datetime = clock()
    return int(when.timestamp() * 1000)


# Words shared by the platforms' tables.
SIGNATURE = N_("the signature was refused: check ${secret} against the robot's security "
               "settings; {skew}")
THROTTLED = N_("the platform is throttling this robot; its notices wait for its window")
