"""config.toml plus TORCHFLOW_* environment -> one immutable Settings object.

Settings are passed explicitly (click's Context.obj), never read from a global.
Relative paths in the file are resolved against the file's directory, so a
config works the same from any working directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from torchflow.errors import ConfigError

ENV_CONFIG = "TORCHFLOW_CONFIG"
ENV_DATABASE_URL = "TORCHFLOW_DATABASE_URL"
ENV_USER = "TORCHFLOW_USER"
CHANNELS = ("file", "smtp", "webhook")


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
class Settings:
    database_url: str
    workflows_dir: Path
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    user: str | None = None
    source: Path | None = None

    def with_database(self, url: str) -> Settings:
        return replace(self, database_url=url)


def default_config_path() -> Path:
    return Path(os.environ.get(ENV_CONFIG) or "config.toml")


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read ``path`` (or TORCHFLOW_CONFIG, or ./config.toml) and apply the environment.

    A missing default config.toml is fine (built-in defaults beside the working
    directory); a missing file that was named explicitly is an error.
    """
    env = dict(os.environ) if env is None else env
    explicit = path is not None or bool(env.get(ENV_CONFIG))
    path = Path(path or env.get(ENV_CONFIG) or "config.toml")
    data: dict[str, Any] = {}
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
    reader.only(["database", "calendar", "workflows", "scheduler", "notify"])
    db = reader.section("database", ["url"])
    cal = reader.section(
        "calendar",
        ["timezone", "workday_start", "workday_end", "blackout", "extra_workdays", "official"],
    )
    wf = reader.section("workflows", ["directory"])
    sch = reader.section(
        "scheduler",
        [
            "interval_seconds", "digest_time", "batch_size", "lease_seconds",
            "max_attempts", "backoff_base_seconds", "backoff_max_seconds",
        ],
    )
    notify = reader.section("notify", ["default_channel", "file", "smtp", "webhook"])
    url = env.get(ENV_DATABASE_URL) or db.text("url", "sqlite:///torchflow.db")
    defaults = SchedulerSettings()
    settings = Settings(
        database_url=_resolve_sqlite_url(url, base),
        workflows_dir=_workflows_dir(wf, base),
        calendar=CalendarSettings(
            timezone=cal.text("timezone", "Asia/Shanghai"),
            workday_start=cal.local_time("workday_start", time(9, 0)),
            workday_end=cal.local_time("workday_end", time(18, 0)),
            blackout=cal.dates("blackout"),
            extra_workdays=cal.dates("extra_workdays"),
            official=_official_paths(cal, base),
        ),
        scheduler=SchedulerSettings(
            interval_seconds=sch.positive("interval_seconds", defaults.interval_seconds),
            digest_time=sch.local_time("digest_time", defaults.digest_time),
            batch_size=int(sch.positive("batch_size", defaults.batch_size)),
            lease_seconds=sch.positive("lease_seconds", defaults.lease_seconds),
            max_attempts=int(sch.positive("max_attempts", defaults.max_attempts)),
            backoff_base_seconds=sch.positive(
                "backoff_base_seconds", defaults.backoff_base_seconds
            ),
            backoff_max_seconds=sch.positive("backoff_max_seconds", defaults.backoff_max_seconds),
        ),
        notify=_notify(notify, base),
        user=env.get(ENV_USER) or None,
        source=source,
    )
    if settings.calendar.workday_start >= settings.calendar.workday_end:
        raise ConfigError(f"{reader.where}: calendar.workday_start must be before workday_end")
    return settings


def _official_paths(cal: _Reader, base: Path) -> tuple[Path, ...]:
    values = cal.data.get("official", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise cal._fail("official", 'a list of files such as ["calendars/cn-2027.toml"]')
    return tuple(base / value for value in values)


def _notify(notify: _Reader, base: Path) -> NotifySettings:
    file = notify.section("file", ["path"])
    smtp = notify.section(
        "smtp",
        ["host", "port", "security", "username", "password_env", "sender", "timeout_seconds"],
    )
    hook = notify.section("webhook", ["url", "secret_env", "timeout_seconds", "allow_unsigned"])
    security = smtp.text("security", "none")
    if security not in ("none", "starttls", "ssl"):
        raise ConfigError(
            f"{smtp.where}: notify.smtp.security is {security!r}; use none, starttls or ssl"
        )
    return NotifySettings(
        default_channel=notify.choice("default_channel", "file", CHANNELS),
        file=FileSettings(path=base / file.text("path", "outbox.jsonl")),
        smtp=SmtpSettings(
            host=smtp.text("host", "localhost"),
            port=int(smtp.positive("port", 25)),
            security=security,
            username=smtp.text("username", ""),
            password_env=smtp.text("password_env", "TORCHFLOW_SMTP_PASSWORD"),
            sender=smtp.text("sender", "torchflow@localhost"),
            timeout_seconds=smtp.positive("timeout_seconds", 10.0),
        ),
        webhook=WebhookSettings(
            url=hook.text("url", ""),
            secret_env=hook.text("secret_env", "TORCHFLOW_WEBHOOK_SECRET"),
            timeout_seconds=hook.positive("timeout_seconds", 10.0),
            allow_unsigned=hook.data.get("allow_unsigned", False) is True,
        ),
    )


def bundled_workflows_dir() -> Path:
    """The workflows shipped with torchflow: installed as torchflow/bundled, or the
    top-level workflows/ of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled", here.parent / "workflows"):
        if candidate.is_dir():
            return candidate
    return here / "bundled"


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
                raise ConfigError(
                    f"{self.where}: unknown key '{self.prefix}{key}'; expected one of "
                    + ", ".join(allowed)
                )

    def section(self, name: str, allowed: list[str]) -> _Reader:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: [{self.prefix}{name}] must be a table")
        reader = _Reader(value, self.where, f"{self.prefix}{name}.")
        reader.only(allowed)
        return reader

    def _fail(self, key: str, wants: str) -> ConfigError:
        return ConfigError(
            f"{self.where}: {self.prefix}{key} = {self.data[key]!r} is not valid; it wants {wants}"
        )

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self._fail(key, "one of " + ", ".join(allowed))
        return value

    def positive(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self._fail(key, "a positive number")
        return float(value)

    def local_time(self, key: str, default: time) -> time:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise self._fail(key, 'a local time such as "09:00"') from None

    def dates(self, key: str) -> tuple[date, ...]:
        values = self.data.get(key, [])
        if not isinstance(values, list):
            raise self._fail(key, 'a list of dates such as ["2026-12-31"]')
        out = []
        for value in values:
            if isinstance(value, date):
                out.append(value)
                continue
            try:
                out.append(date.fromisoformat(str(value)))
            except ValueError:
                raise self._fail(key, 'a list of dates such as ["2026-12-31"]') from None
        return tuple(out)
