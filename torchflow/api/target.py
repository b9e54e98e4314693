"""Where the server is, and the credentials for it: what a command reads to
know whether it is a client (``server`` in the config, or TORCHFLOW_SERVER).

Every command reads this, embedded or not, so it imports no more than tomllib:
``torchflow.api.client`` (http.client, ssl) is imported only in client mode.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from msgspec import Struct

from torchflow.errors import ConfigError
from torchflow.i18n import _

ENV_SERVER = "TORCHFLOW_SERVER"
ENV_TOKEN = "TORCHFLOW_TOKEN"
CREDENTIALS = Path("~/.config/torchflow/credentials")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class Target(Struct, frozen=True):
    """Where the server is: a Unix socket path, or a base URL."""

    text: str
    socket: str | None = None
    scheme: str = "http"
    host: str = ""
    port: int | None = None
    base: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        not_url = _("server {text!r} is not a URL; use e.g. "
                    '"unix:/run/torchflow/torchflow.sock" or "https://torchflow.example.cn"',
                    text=text)
        if text.startswith("unix:"):
            path = text[len("unix:"):]
            if not path.startswith("/"):
                raise ConfigError(_("server {text!r}: the socket path must be absolute, e.g. "
                                    '"unix:/run/torchflow/torchflow.sock"', text=text))
            return cls(text, socket=path)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ConfigError(not_url) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(not_url)
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
            # A token sent in clear text across a network is a token given away.
            raise ConfigError(_("server {text!r}: plain http only to this machine (localhost); "
                                "use https (TLS at the reverse proxy, docs/deployment.md)",
                                text=text))
        return cls(text, scheme=parts.scheme, host=parts.hostname, port=port,
                   base=parts.path.rstrip("/"))


def client_settings(config_path: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    """``server`` and ``credentials`` from TORCHFLOW_SERVER or the config file: all
    a client reads of it. Empty when no server is named (embedded mode)."""
    path = Path(config_path or env.get("TORCHFLOW_CONFIG") or "config.toml")
    data: dict[str, Any] = {}
    try:
        if path.is_file():
            data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        data = {}  # embedded mode reads the file again and says what is wrong with it
    server = env.get(ENV_SERVER) or data.get("server")
    if not server:
        return {}
    if not isinstance(server, str):
        raise ConfigError(_('{path}: server = {server!r} is not valid; it wants a string such '
                            'as "unix:/run/torchflow/torchflow.sock"', path=path, server=server))
    credentials = data.get("credentials")
    base = path.resolve().parent
    return {"server": server,
            "credentials": base / credentials if isinstance(credentials, str) else None}


def read_token(env: Mapping[str, str], credentials: Path | None) -> str | None:
    """TORCHFLOW_TOKEN, or the credentials file (``token = "tfp_..."``), which must
    be readable by its owner alone, as ssh asks of a private key."""
    if env.get(ENV_TOKEN):
        return env[ENV_TOKEN].strip()
    path = (credentials or CREDENTIALS).expanduser()
    try:
        info = path.stat()
    except OSError:
        return None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigError(_("the credentials file {path} may be read by others (mode "
                            "{mode:o}); run `chmod 600 {path}`", path=path,
                            mode=stat.S_IMODE(info.st_mode)))
    try:
        token = tomllib.loads(path.read_text(encoding="utf-8")).get("token")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(_('the credentials file {path} cannot be read ({why}); it holds one '
                            'line: token = "tfp_..."', path=path, why=exc)) from None
    if not isinstance(token, str) or not token:
        raise ConfigError(_('the credentials file {path} has no token; it holds one line: '
                            'token = "tfp_..."', path=path))
    return token.strip()
