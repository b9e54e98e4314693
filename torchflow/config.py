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
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from msgspec import Struct, field
from msgspec.structs import replace

from torchflow.channels import CHANNEL_TYPES, channel_type
from torchflow.errors import ConfigError
from torchflow.files import FileModes, group_id
from torchflow.i18n import Listing, Text, _, normalize

ENV_CONFIG = "TORCHFLOW_CONFIG"
ENV_DATABASE_URL = "TORCHFLOW_DATABASE_URL"
T = TypeVar("T")


class OfficeSettings(Struct, frozen=True):
    # Chinese first: what people read, and the words they type, are the office's.
    locale: str = "zh-CN"
    # The office's name, as its notices and reports head it (e.g. 无锡高新区招商局).
    name: str = ""


class CalendarSettings(Struct, frozen=True):
    timezone: str = "Asia/Shanghai"
    workday_start: time = time(9, 0)
    workday_end: time = time(18, 0)
    blackout: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()
    # Office-typed official schedules, one file per year (docs/calendar.md).
    official: tuple[Path, ...] = ()


class SchedulerSettings(Struct, frozen=True):
    interval_seconds: float = 60.0
    digest_time: time = time(8, 30)
    batch_size: int = 200
    lease_seconds: float = 300.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0


class NotifySettings(Struct, frozen=True):
    """[notify]: the default channel, the hosts notices may go to inside the office's
    own network, group robots, and each channel's own table (its module's settings)."""

    default_channel: str = "file"
    # How a person who chose nothing is told (`person notify` sets their own):
    # "digest" (the daily digest, escalations at once) or "each" (every notice).
    mode: str = "digest"
    # More than this many task notices waiting at once for one person (a backlog
    # an import or an outage made) go as one summary (service/delivery/bundles.py).
    backlog_after: int = 3
    # A link to a case in notices, "{key}" replaced by its key (none: no link).
    case_url: str = ""
    # Host names, addresses or networks (10.1.0.0/16) an HTTP channel may post to
    # although they are loopback, private or link-local (channels/guard.py).
    allow_hosts: tuple[str, ...] = ()
    # A workflow's or a role's notices go to a group robot: name -> "CHANNEL:ROBOT".
    groups: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A backlog on one robot or app member that its rate budget cannot pass within
    # this many minutes is folded into one message (service/delivery/gate.py).
    fold_after_minutes: int = 10
    # The [notify.NAME] tables the file has, each read by the channel's own module
    # when the config is loaded; a channel with no table gets its defaults when
    # asked (``of``), so a command need not import every channel to start.
    channels: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    base: Path = Path(".")  # the config file's folder: a channel's default paths
    timeout_cap: float | None = None  # half the lease: the most a channel's default waits

    def of(self, name: str, kind: type[T]) -> T:
        """Channel ``name``'s settings (its module's record ``kind``)."""
        found = self.channels.get(name)
        if not isinstance(found, kind):
            found = self._defaults(name)
        return found if isinstance(found, kind) else kind()

    def _defaults(self, name: str) -> Any:
        settings = channel_type(name).read_settings(
            Section({}, "config", f"notify.{name}."), self.base)
        cap = self.timeout_cap
        if cap is not None and getattr(settings, "timeout_seconds", 0.0) > cap:
            settings = replace(settings, timeout_seconds=cap)
        return settings

    def with_channel(self, name: str, **changes: Any) -> NotifySettings:
        """These settings with some of channel ``name``'s values replaced."""
        current = self.channels.get(name) or self._defaults(name)
        channels = {**self.channels, name: replace(current, **changes)}
        return replace(self, channels=MappingProxyType(channels))


class FeedsSettings(Struct, frozen=True):
    # Where the scheduler keeps each person's follow-ups as an .ics file (none: off).
    ics_dir: Path | None = None


class ReportSettings(Struct, frozen=True):
    # Roles (or handles) that get the HTML report on each month's first working day.
    monthly: tuple[str, ...] = ()


class ServeSettings(Struct, frozen=True):
    """`torchflow serve`: where it listens and what it takes (docs/deployment.md)."""

    socket: Path | None = None  # a Unix socket, made 0660 with ``socket_group``
    socket_group: str = ""
    host: str = "127.0.0.1"
    port: int | None = None  # TCP; none: the socket only
    # Addresses (IPs or networks) whose Remote-User header is believed, and
    # "unix:LOGIN" for a proxy that comes in through the socket as LOGIN.
    trusted_proxies: tuple[str, ...] = ()
    max_upload_mb: float = 64.0  # a spreadsheet or checkpoint sent to import or verify
    max_request_kb: float = 1024.0  # any other request
    request_timeout_seconds: float = 60.0  # to receive one request
    # One line per request (uvicorn's access log). Off: every change is in the
    # history with how its caller was authenticated, refusals are logged anyway,
    # and a line per request costs a tenth of a small request's time.
    access_log: bool = False


class SheetSettings(Struct, frozen=True):
    """What an imported spreadsheet may hold (docs/spreadsheets.md): checked before and
    while it is read, so a small file that unpacks huge is refused without the memory."""

    max_xlsx_mb: float = 512.0  # an .xlsx's parts uncompressed, from its zip directory
    max_cell_chars: int = 32_767  # Excel's own limit on one cell
    max_rows: int = 1_048_576  # Excel's own limit on one sheet


class Settings(Struct, frozen=True):
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
    serve: ServeSettings = field(default_factory=ServeSettings)
    sheets: SheetSettings = field(default_factory=SheetSettings)
    # [files] group: the files torchflow creates shared with the office's group.
    files: FileModes = field(default_factory=FileModes)


DEFAULT_DATABASE = "sqlite:///torchflow.db"
# A send must finish well before its lease runs out, or another service may take
# the lease and send the same notice again: a channel's timeout is at most half
# the lease, which leaves the other half for the claim, the mark and a slow disk.
LEASE_SHARE = 2
DAY = 86_400.0

# What each key accepts: (kind, low, high). Keys not given keep the record's
# default, so every default is written once, on the record.
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
NOTIFY_RULES: dict[str, Rule] = {
    "default_channel": ("text", 1, 32), "allow_hosts": ("texts", 0, 100),
    "fold_after_minutes": ("count", 1, 24 * 60), "mode": ("text", 1, 16),
    "backlog_after": ("count", 1, 10_000), "case_url": ("text", 0, 500),
}
NOTIFY_MODES = ("each", "digest")  # domain/routing.py's, checked here without importing it
SERVE_RULES: dict[str, Rule] = {
    "socket_group": ("text", 1, 64), "host": ("text", 1, 255), "port": ("count", 1, 65_535),
    "max_upload_mb": ("seconds", 0.001, 4096), "max_request_kb": ("seconds", 1, 1 << 20),
    "request_timeout_seconds": ("seconds", 1, 3600), "access_log": ("bool", 0, 0),
}
SHEETS_RULES: dict[str, Rule] = {
    "max_xlsx_mb": ("seconds", 0.001, 64 * 1024), "max_cell_chars": ("count", 1, 10_000_000),
    "max_rows": ("count", 1, 100_000_000),
}
SECTIONS = ["office", "database", "calendar", "workflows", "scheduler", "notify", "feeds",
            "reports", "serve", "sheets", "files"]
# Top-level keys of a client's config (torchflow/api/client.py reads them).
CLIENT_KEYS = ["server", "credentials"]


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
        raise ConfigError(_("config file {path} is a folder; pass a config.toml to --config",
                            path=path))
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(_("{path}: not valid TOML: {exc}", path=path, exc=exc)) from None
        except OSError as exc:
            raise ConfigError(_("{path}: cannot be read: {reason}",
                                path=path, reason=exc.strerror)) from None
    elif explicit:
        raise ConfigError(_("config file {path} does not exist; pass an existing file to --config",
                            path=path))
    return _build(data, path.resolve().parent, path if path.exists() else None, env)


def _build(data: dict[str, Any], base: Path, source: Path | None, env: dict[str, str]) -> Settings:
    reader = Section(data, str(source or "config"))
    reader.only(SECTIONS + CLIENT_KEYS)
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
        notify=_notify(reader.section("notify", [*NOTIFY_RULES, "groups", *CHANNEL_TYPES]), base),
        feeds=_feeds(reader.section("feeds", ["ics_dir"]), base),
        source=source,
        reports=_reports(reader.section("reports", ["monthly"])),
        office=_office(reader.section("office", ["locale", "name"])),
        serve=_serve(reader.section("serve", [*SERVE_RULES, "socket", "trusted_proxies"]),
                     base),
        sheets=SheetSettings(**reader.section("sheets", list(SHEETS_RULES)).read(SHEETS_RULES)),
        files=_files(reader.section("files", ["group"])),
        **busy,
    )
    _check_consistent(settings, reader.where)
    _check_groups(settings, reader.where)
    return _fit_timeouts(settings, reader.section("notify"), reader.where)


def _calendar(cal: Section, base: Path) -> CalendarSettings:
    return CalendarSettings(**cal.read(CALENDAR_RULES), official=_official_paths(cal, base))


def _official_paths(cal: Section, base: Path) -> tuple[Path, ...]:
    values = cal.data.get("official", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise cal.fail("official", _('a list of files such as ["calendars/cn-2027.toml"]'))
    return tuple(base / value for value in values)


def _office(office: Section) -> OfficeSettings:
    locale = office.text("locale", OfficeSettings().locale)
    if normalize(locale) is None:
        raise ConfigError(_("{where}: office.locale = {value!r} is not a language torchflow "
                            "speaks; use \"zh-CN\" (Chinese) or \"en\" (English)",
                            where=office.where, value=locale))
    name = office.bounded_text("name", 0, 200) if "name" in office.data else ""
    return OfficeSettings(locale=locale, name=name)


def _files(files: Section) -> FileModes:
    """[files] group: a group this login belongs to (it must give files to it)."""
    if "group" not in files.data:
        return FileModes()
    name = files.bounded_text("group", 1, 64)
    gid = group_id(name)
    if gid is None:
        raise ConfigError(_("{where}: files.group = {name!r} is no group of this system; "
                            "create it (groupadd {name}) or name another",
                            where=files.where, name=name))
    if os.geteuid() != 0 and gid != os.getegid() and gid not in os.getgroups():
        raise ConfigError(_("{where}: files.group = {name!r} is not a group of this login, "
                            "which could not give its files to it; add the login to it "
                            "(usermod -aG {name} LOGIN) or name another",
                            where=files.where, name=name))
    return FileModes(group=name, gid=gid)


def _reports(rep: Section) -> ReportSettings:
    values = rep.data.get("monthly", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise rep.fail("monthly", _('a list of roles or handles such as ["director"]'))
    return ReportSettings(monthly=tuple(values))


def _serve(serve: Section, base: Path) -> ServeSettings:
    proxies = serve.data.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(v, str) and v for v in proxies):
        raise serve.fail("trusted_proxies",
                         _('a list of addresses such as ["127.0.0.1", "unix:www-data"]'))
    socket = base / serve.bounded_text("socket", 1, 100) if "socket" in serve.data else None
    return ServeSettings(**serve.read(SERVE_RULES), socket=socket,
                         trusted_proxies=tuple(proxies))


def _check_consistent(settings: Settings, where: str) -> None:
    if settings.calendar.workday_start >= settings.calendar.workday_end:
        raise ConfigError(_("{where}: calendar.workday_start must be before workday_end",
                            where=where))
    sch = settings.scheduler
    if sch.backoff_base_seconds > sch.backoff_max_seconds:
        raise ConfigError(_("{where}: scheduler.backoff_base_seconds must not exceed "
                            "backoff_max_seconds", where=where))


def _check_groups(settings: Settings, where: str) -> None:
    """Each group robot of [notify.groups] is one its channel has."""
    for name, group in settings.notify.groups.items():
        channel, _colon, robot = group.partition(":")
        problem = channel_type(channel).address_problem(settings, robot)
        if problem is not None:
            raise ConfigError(_("{where}: notify.groups.{name} = {group!r}: {problem}",
                                where=where, name=name, group=group, problem=problem))


def _fit_timeouts(settings: Settings, notify: Section, where: str) -> Settings:
    """A channel's timeout_seconds, written, must end well inside the lease; not
    written, it is at most half the lease, so a short lease needs no timeout
    written for each of the channels."""
    sch = settings.scheduler
    limit = sch.lease_seconds / LEASE_SHARE
    fitted = replace(settings.notify, timeout_cap=limit)
    for name, channel in settings.notify.channels.items():
        timeout = getattr(channel, "timeout_seconds", 0.0)  # channels that wait on a network
        if timeout <= limit:
            continue
        if "timeout_seconds" not in notify.section(name).data:
            fitted = fitted.with_channel(name, timeout_seconds=limit)
            continue
        raise ConfigError(
            _("{where}: notify.{name}.timeout_seconds = {timeout:g} is too long for "
              "scheduler.lease_seconds = {lease_seconds:g}; a send must end well before its "
              "lease does (at most half of it, {limit:g}), or another service may send the same "
              "notice again",
              where=where, name=name, timeout=timeout, lease_seconds=sch.lease_seconds,
              limit=limit)
        )
    return replace(settings, notify=fitted)


def _notify(notify: Section, base: Path) -> NotifySettings:
    """[notify] and each channel's table, read by the channel's own module."""
    values = notify.read(NOTIFY_RULES)
    if values.get("default_channel", "file") not in CHANNEL_TYPES:
        raise notify.fail("default_channel", one_of(CHANNEL_TYPES))
    if values.get("mode", "digest") not in NOTIFY_MODES:
        raise notify.fail("mode", one_of(NOTIFY_MODES))
    if values.get("case_url") and "{key}" not in values["case_url"]:
        raise notify.fail("case_url", _('a URL with "{{key}}" in it, e.g. '
                                        '"https://torchflow.example.gov.cn/cases/{{key}}"'))
    channels = {name: channel_type(name).read_settings(notify.section(name), base)
                for name in CHANNEL_TYPES if name in notify.data}
    return NotifySettings(**values, groups=MappingProxyType(_groups(notify)),
                          channels=MappingProxyType(channels), base=base)


def _groups(notify: Section) -> dict[str, str]:
    """[notify.groups]: a workflow's or role's name -> "CHANNEL:ROBOT" (a group robot)."""
    groups = notify.section("groups")
    found = {}
    for name in groups.data:
        channel, _colon, robot = groups.bounded_text(name, 3, 100).partition(":")
        if channel not in CHANNEL_TYPES or not robot:
            raise groups.fail(name, _('a group robot such as "wecom_robot:office"'))
        found[name] = f"{channel}:{robot}"
    return found


def bundled_workflows_dir() -> Path:
    """The workflows shipped with torchflow: installed as torchflow/bundled, or the
    top-level workflows/ of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled", here.parent / "workflows"):
        if candidate.is_dir():
            return candidate
    return here / "bundled"


def _feeds(feeds: Section, base: Path) -> FeedsSettings:
    if "ics_dir" not in feeds.data:
        return FeedsSettings()
    return FeedsSettings(ics_dir=base / feeds.bounded_text("ics_dir", 1, 1000))


def _workflows_dir(wf: Section, base: Path) -> Path:
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


def one_of(allowed: Iterable[str]) -> Text:
    """What a key that takes one of ``allowed`` wants, for ``Section.fail``."""
    return _("one of {choices}", choices=Listing(allowed))


class Section:
    """Typed access to one table of the config, with one-line errors that name the key.
    Channel modules read their own [notify.NAME] table with it."""

    def __init__(self, data: dict[str, Any], where: str, prefix: str = "") -> None:
        self.data, self.where, self.prefix = data, where, prefix

    def only(self, allowed: list[str]) -> None:
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                if close:
                    raise ConfigError(_("{where}: unknown key '{prefix}{key}'; did you mean "
                                        "'{prefix}{close}'? expected one of {choices}",
                                        where=self.where, prefix=self.prefix, key=key,
                                        close=close[0], choices=Listing(allowed)))
                raise ConfigError(_("{where}: unknown key '{prefix}{key}'; expected one of "
                                    "{choices}", where=self.where, prefix=self.prefix, key=key,
                                    choices=Listing(allowed)))

    def section(self, name: str, allowed: list[str] | None = None) -> Section:
        """The table ``name`` (empty when absent); ``allowed``: the keys it may have."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(_("{where}: [{prefix}{name}] must be a table",
                                where=self.where, prefix=self.prefix, name=name))
        reader = Section(value, self.where, f"{self.prefix}{name}.")
        if allowed is not None:
            reader.only(allowed)
        return reader

    def read(self, rules: dict[str, Rule]) -> dict[str, Any]:
        """The keys present, each checked by its rule; absent keys are left out so
        the record's default applies."""
        readers: dict[str, Callable[[str, float, float], Any]] = {
            "seconds": self.seconds, "count": self.count, "text": self.bounded_text,
            "time": self.local_time, "dates": self.dates, "bool": self.boolean,
            "texts": self.texts,
        }
        return {key: readers[kind](key, low, high)
                for key, (kind, low, high) in rules.items() if key in self.data}

    def fail(self, key: str, wants: str | Text) -> ConfigError:
        return ConfigError(_("{where}: {prefix}{key} = {value!r} is not valid; it wants {wants}",
                             where=self.where, prefix=self.prefix, key=key,
                             value=self.data[key], wants=wants))

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, _("a string"))
        return value

    def bounded_text(self, key: str, low: float, high: float) -> str:
        value = self.text(key, "")
        if not low <= len(value) <= high or any(ord(c) < 32 for c in value):
            raise self.fail(key, _("a string of {low:g} to {high:g} characters on one line",
                                    low=low, high=high))
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self.fail(key, one_of(allowed))
        return value

    def texts(self, key: str, _low: float, high: float) -> tuple[str, ...]:
        """A list of short one-line strings, at most ``high`` of them."""
        values = self.data[key]
        if not isinstance(values, list) or len(values) > high or not all(
                isinstance(v, str) and 0 < len(v) <= 255 and v.isprintable() for v in values):
            raise self.fail(key, _("a list of at most {high:g} strings such as [\"10.1.2.3\"]",
                                    high=high))
        return tuple(values)

    def seconds(self, key: str, low: float, high: float) -> float:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not low <= value <= high:
            raise self.fail(key, _("a number of seconds from {low:g} to {high:g}",
                                    low=low, high=high))
        return float(value)

    def count(self, key: str, low: float, high: float) -> int:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, _("a whole number from {low:g} to {high:g}", low=low, high=high))
        return value

    def boolean(self, key: str, _low: float = 0, _high: float = 0) -> bool:
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.fail(key, _("true or false"))
        return value

    def local_time(self, key: str, _low: float = 0, _high: float = 0) -> time:
        value = self.data[key]
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise self.fail(key, _('a local time such as "09:00"')) from None

    def dates(self, key: str, _low: float = 0, _high: float = 0) -> tuple[date, ...]:
        values = self.data[key]
        wants = _('a list of dates such as ["2026-12-31"]')
        if not isinstance(values, list):
            raise self.fail(key, wants)
        out = []
        for value in values:
            if isinstance(value, date) and not isinstance(value, datetime):
                out.append(value)
                continue
            try:
                out.append(date.fromisoformat(str(value)))
            except ValueError:
                raise self.fail(key, wants) from None
        return tuple(out)
