"""config.toml plus TORCHFLOW_* environment -> one immutable Settings object.

Settings are passed explicitly (click's Context.obj), never read from a global.
Relative paths in the file are resolved against the file's directory, so a
config works the same from any working directory.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from torchflow.errors import ConfigError
from torchflow.i18n import _, normalize

ENV_CONFIG = "TORCHFLOW_CONFIG"
ENV_DATABASE_URL = "TORCHFLOW_DATABASE_URL"
CHANNELS = ("file", "smtp", "webhook")
SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class OfficeSettings:
    # Chinese first: what people read, and the words they type, are the office's.
    locale: str = "zh-CN"
    # The office's name, as its notices and reports head it (e.g. 无锡高新区招商局).
    name: str = ""


@dataclass(frozen=True)
class CalendarSettings:
    timezone: str = "Asia/Shanghai"
    workday_start: time = time(9, 0)
    workday_end: time = time(18, 0)
    blackout: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()
    # Office-typed official schedules, one file per year (docs/calendar.md).
    official: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SchedulerSettings:
    interval_seconds: float = 60.0
    digest_time: time = time(8, 30)
    batch_size: int = 200
    lease_seconds: float = 300.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0


@dataclass(frozen=True)
class FileSettings:
    path: Path = Path("outbox.jsonl")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password_env: str = "TORCHFLOW_SMTP_PASSWORD"
    sender: str = "torchflow@localhost"
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class WebhookSettings:
    url: str = ""
    secret_env: str = "TORCHFLOW_WEBHOOK_SECRET"
    timeout_seconds: float = 10.0
    allow_unsigned: bool = False


@dataclass(frozen=True)
class NotifySettings:
    default_channel: str = "file"
    file: FileSettings = field(default_factory=FileSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)


@dataclass(frozen=True)
class FeedsSettings:
    # Where the scheduler keeps each person's follow-ups as an .ics file (none: off).
    ics_dir: Path | None = None


@dataclass(frozen=True)
class ReportSettings:
    # Roles (or handles) that get the HTML report on each month's first working day.
    monthly: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    database_url: str
    workflows_dir: Path
    busy_timeout_seconds: float = 15.0
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    source: Path | None = None
    reports: ReportSettings = field(default_factory=ReportSettings)
    office: OfficeSettings = field(default_factory=OfficeSettings)


DEFAULT_DATABASE = "sqlite:///torchflow.db"
# A send must finish well before its lease runs out, or another service may take
# the lease and send the same notice again: a channel's timeout is at most half
# the lease, which leaves the other half for the claim, the mark and a slow disk.
LEASE_SHARE = 2
DAY = 86_400.0

# What each key accepts: (kind, low, high). Keys not given keep the dataclass
# default, so every default is written once, on the dataclass.
Rule = tuple[str, float, float]
SCHEDULER_RULES: dict[str, Rule] = {
    "interval_seconds": ("seconds", 0.1, DAY),
    "digest_time": ("time", 0, 0),
    "batch_size": ("count", 1, 10_000),
    "lease_seconds": ("seconds", 1, DAY),
    "max_attempts": ("count", 1, 1_000),
    "backoff_base_seconds": ("seconds", 0.1, DAY),
    "backoff_max_seconds": ("seconds", 0.1, 7 * DAY),
}
CALENDAR_RULES: dict[str, Rule] = {
    "timezone": ("text", 1, 100), "workday_start": ("time", 0, 0),
    "workday_end": ("time", 0, 0), "blackout": ("dates", 0, 0),
    "extra_workdays": ("dates", 0, 0),
}
SMTP_RULES: dict[str, Rule] = {
    "host": ("text", 1, 255), "port": ("count", 1, 65_535), "security": ("text", 1, 20),
    "username": ("text", 0, 255), "password_env": ("text", 1, 255),
    "sender": ("text", 1, 320), "timeout_seconds": ("seconds", 0.1, 3600),
}
WEBHOOK_RULES: dict[str, Rule] = {
    "url": ("text", 0, 2000), "secret_env": ("text", 1, 255),
    "timeout_seconds": ("seconds", 0.1, 3600), "allow_unsigned": ("bool", 0, 0),
}
SECTIONS = ["office", "database", "calendar", "workflows", "scheduler", "notify", "feeds",
            "reports"]


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read ``path`` (or TORCHFLOW_CONFIG, or ./config.toml) and apply the environment.

    A missing default config.toml is fine (built-in defaults beside the working
    directory); a missing file that was named explicitly is an error.
    """
    env = dict(os.environ) if env is None else env
    explicit = path is not None or bool(env.get(ENV_CONFIG))
    path = Path(path or env.get(ENV_CONFIG) or "config.toml")
    data: dict[str, Any] = {}
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder; pass a config.toml to --config")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"config file {path} does not exist; pass an existing file to --config")
    return _build(data, path.resolve().parent, path if path.exists() else None, env)


def _build(data: dict[str, Any], base: Path, source: Path | None, env: dict[str, str]) -> Settings:
    reader = _Reader(data, str(source or "config"))
    reader.only(SECTIONS)
    db = reader.section("database", ["url", "busy_timeout_seconds"])
    wf = reader.section("workflows", ["directory"])
    url = env.get(ENV_DATABASE_URL) or db.text("url", DEFAULT_DATABASE)
    busy = db.read({"busy_timeout_seconds": ("seconds", 0.01, 600)})
    settings = Settings(
        database_url=_resolve_sqlite_url(url, base),
        workflows_dir=_workflows_dir(wf, base),
        calendar=_calendar(reader.section("calendar", [*CALENDAR_RULES, "official"]), base),
        scheduler=SchedulerSettings(**reader.section("scheduler", list(SCHEDULER_RULES))
                                    .read(SCHEDULER_RULES)),
        notify=_notify(reader.section("notify", ["default_channel", "file", "smtp", "webhook"]),
                       base),
        feeds=_feeds(reader.section("feeds", ["ics_dir"]), base),
        source=source,
        reports=_reports(reader.section("reports", ["monthly"])),
        office=_office(reader.section("office", ["locale", "name"])),
        **busy,
    )
    _check_consistent(settings, reader.where)
    return settings


def _calendar(cal: _Reader, base: Path) -> CalendarSettings:
    return CalendarSettings(**cal.read(CALENDAR_RULES), official=_official_paths(cal, base))


def _official_paths(cal: _Reader, base: Path) -> tuple[Path, ...]:
    values = cal.data.get("official", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise cal._fail("official", 'a list of files such as ["calendars/cn-2027.toml"]')
    return tuple(base / value for value in values)


def _office(office: _Reader) -> OfficeSettings:
    locale = office.text("locale", OfficeSettings.locale)
    if normalize(locale) is None:
        raise ConfigError(_("{where}: office.locale = {value!r} is not a language torchflow "
                            "speaks; use \"zh-CN\" (Chinese) or \"en\" (English)",
                            where=office.where, value=locale))
    name = office.bounded_text("name", 0, 200) if "name" in office.data else ""
    return OfficeSettings(locale=locale, name=name)


def _reports(rep: _Reader) -> ReportSettings:
    values = rep.data.get("monthly", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise rep._fail("monthly", 'a list of roles or handles such as ["director"]')
    return ReportSettings(monthly=tuple(values))


def _check_consistent(settings: Settings, where: str) -> None:
    if settings.calendar.workday_start >= settings.calendar.workday_end:
        raise ConfigError(f"{where}: calendar.workday_start must be before workday_end")
    sch = settings.scheduler
    if sch.backoff_base_seconds > sch.backoff_max_seconds:
        raise ConfigError(f"{where}: scheduler.backoff_base_seconds must not exceed "
                          "backoff_max_seconds")
    limit = sch.lease_seconds / LEASE_SHARE
    for name in ("smtp", "webhook"):
        timeout = getattr(settings.notify, name).timeout_seconds
        if timeout > limit:
            raise ConfigError(
                f"{where}: notify.{name}.timeout_seconds = {timeout:g} is too long for "
                f"scheduler.lease_seconds = {sch.lease_seconds:g}; a send must end well "
                f"before its lease does (at most half of it, {limit:g}), or another "
                "service may send the same notice again"
            )


def _notify(notify: _Reader, base: Path) -> NotifySettings:
    file = notify.section("file", ["path"])
    smtp = notify.section("smtp", list(SMTP_RULES)).read(SMTP_RULES)
    if smtp.get("security", "none") not in SECURITY:
        raise ConfigError(
            f"{notify.where}: notify.smtp.security is {smtp['security']!r}; "
            "use none, starttls or ssl"
        )
    path = base / file.text("path", str(FileSettings.path))
    return NotifySettings(
        **({"default_channel": notify.choice("default_channel", NotifySettings.default_channel,
                                                  CHANNELS)}
           if "default_channel" in notify.data else {}),
        file=FileSettings(path=path),
        smtp=SmtpSettings(**smtp),
        webhook=WebhookSettings(**notify.section("webhook", list(WEBHOOK_RULES))
                                .read(WEBHOOK_RULES)),
    )


def bundled_workflows_dir() -> Path:
    """The workflows shipped with torchflow: installed as torchflow/bundled, or the
    top-level workflows/ of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled", here.parent / "workflows"):
        if candidate.is_dir():
            return candidate
    return here / "bundled"


def _feeds(feeds: _Reader, base: Path) -> FeedsSettings:
    if "ics_dir" not in feeds.data:
        return FeedsSettings()
    return FeedsSettings(ics_dir=base / feeds.bounded_text("ics_dir", 1, 1000))


def _workflows_dir(wf: _Reader, base: Path) -> Path:
    if "directory" in wf.data:
        return base / wf.text("directory", "workflows")
    # Unconfigured and no workflows/ beside the config: use the shipped ones.
    local = base / "workflows"
    return local if local.is_dir() else bundled_workflows_dir()


def _resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix):]
        if rest and rest != ":memory:":
            return prefix + str(base / rest)
    return url


class _Reader:
    """Typed access to one table of the config, with one-line errors that name the key."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = "") -> None:
        self.data, self.where, self.prefix = data, where, prefix

    def only(self, allowed: list[str]) -> None:
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{self.prefix}{close[0]}'? " if close else ""
                raise ConfigError(
                    f"{self.where}: unknown key '{self.prefix}{key}'; {hint}expected one of "
                    + ", ".join(allowed)
                )

    def section(self, name: str, allowed: list[str]) -> _Reader:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: [{self.prefix}{name}] must be a table")
        reader = _Reader(value, self.where, f"{self.prefix}{name}.")
        reader.only(allowed)
        return reader

    def read(self, rules: dict[str, Rule]) -> dict[str, Any]:
        """The keys present, each checked by its rule; absent keys are left out so
        the dataclass default applies."""
        readers: dict[str, Callable[[str, float, float], Any]] = {
            "seconds": self.seconds, "count": self.count, "text": self.bounded_text,
            "time": self.local_time, "dates": self.dates, "bool": self.boolean,
        }
        return {key: readers[kind](key, low, high)
                for key, (kind, low, high) in rules.items() if key in self.data}

    def _fail(self, key: str, wants: str) -> ConfigError:
        return ConfigError(
            f"{self.where}: {self.prefix}{key} = {self.data[key]!r} is not valid; it wants {wants}"
        )

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def bounded_text(self, key: str, low: float, high: float) -> str:
        value = self.text(key, "")
        if not low <= len(value) <= high or any(ord(c) < 32 for c in value):
            raise self._fail(key, f"a string of {low:g} to {high:g} characters on one line")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self._fail(key, "one of " + ", ".join(allowed))
        return value

    def seconds(self, key: str, low: float, high: float) -> float:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not low <= value <= high:
            raise self._fail(key, f"a number of seconds from {low:g} to {high:g}")
        return float(value)

    def count(self, key: str, low: float, high: float) -> int:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(key, f"a whole number from {low:g} to {high:g}")
        return value

    def boolean(self, key: str, _low: float = 0, _high: float = 0) -> bool:
        value = self.data[key]
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def local_time(self, key: str, _low: float = 0, _high: float = 0) -> time:
        value = self.data[key]
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise self._fail(key, 'a local time such as "09:00"') from None

    def dates(self, key: str, _low: float = 0, _high: float = 0) -> tuple[date, ...]:
        values = self.data[key]
        wants = 'a list of dates such as ["2026-12-31"]'
        if not isinstance(values, list):
            raise self._fail(key, wants)
        out = []
        for value in values:
            if isinstance(value, date) and not isinstance(value, datetime):
                out.append(value)
                continue
            try:
                out.append(date.fromisoformat(str(value)))
            except ValueError:
                raise self._fail(key, wants) from None
        return tuple(out)
