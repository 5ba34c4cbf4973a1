"""All configuration, in one documented place.

Every setting comes from an environment variable (optionally from a TOML file named by `TZUROT_CONFIG`,
whose keys are the same names in lower case without the `TZUROT_` prefix). The environment wins over the
file. Every setting has a default and is validated at start: a bad value stops the program with an error that
names the setting, never a stack trace.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting has a value the program cannot run with; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Validated settings; passed to actors inside their start messages, so it must stay picklable."""

    data_dir: Path = Path("./data")
    database_url: str = field(default="", repr=False)
    database_idle_s: float = 10.0
    database_listen_url: str = field(default="", repr=False)
    log_max_bytes: int = 10_000_000
    log_keep: int = 5
    secret_key: str = field(default="", repr=False)
    secret_key_file: str = ""
    user_shards: int = 4
    channel_shards: int = 2
    live_actor_cap: int = 400
    idle_passivate_s: float = 900.0
    backoff_first_s: float = 0.1
    backoff_max_s: float = 30.0
    intensity_max_restarts: int = 5
    intensity_window_s: float = 60.0
    park_cooldown_s: float = 300.0
    liveness_period_s: float = 10.0
    actor_admin_port: int = 19500
    bind_host: str = "127.0.0.1"
    allow_public_bind: int = 0
    convention_leader: str = ""
    node_name: str = ""
    node_heartbeat_s: float = 1.0
    pending_cap: int = 200
    direct_peers: int = 32
    ask_timeout_s: float = 10.0
    discord_token: str = field(default="", repr=False)
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"
    discord_global_rate: float = 40.0
    shard_count: int = 1
    shard_ids: str = ""
    bot_name: str = "Tzurot"
    webhook_pool_size: int = 2
    no_webhook_notice_s: float = 3600.0
    ai_base_url: str = ""
    ai_api_key: str = field(default="", repr=False)
    ai_model: str = "openai/gpt-4o-mini"
    ai_timeout_s: float = 120.0
    ai_max_tokens: int = 1024
    ai_transcribe_model: str = "whisper-1"
    memory_embeddings: int = 1
    ai_embedding_model: str = "text-embedding-3-small"
    dm_requires_verification: int = 0
    streaming: int = 1
    user_rate_per_min: float = 20.0
    user_burst: int = 6
    daily_quota: int = 0
    user_commands_per_min: float = 20.0
    user_command_burst: int = 8
    max_personalities_per_user: int = 50
    ai_slots: int = 8
    ai_slots_adaptive: int = 1
    ai_breaker_failures: int = 5
    ai_breaker_cooldown_s: float = 30.0
    http_host: str = "127.0.0.1"
    http_port: int = 9090
    http_token: str = field(default="", repr=False)
    http_ping: int = 0
    command_prefix: str = "!tz "
    bot_owner_id: int = 0
    command_guild: int = 0

    @property
    def gateway_shards(self) -> tuple[int, ...]:
        """The gateway shards this edge runs (TZUROT_SHARD_IDS, already validated; empty: all of them)."""
        return parse_shard_ids(self.shard_ids, self.shard_count)

    @property
    def sharded(self) -> bool:
        """Run discord.py's AutoShardedClient (several shards, or a chosen few) rather than the plain client."""
        return self.shard_count > 1 or bool(self.shard_ids.strip())

    @property
    def store_path(self) -> Path:
        return self.data_dir / "tzurot.sqlite3"

    @property
    def supervisor_log_path(self) -> Path:
        return self.data_dir / "supervisor.log"

    @property
    def secret_key_path(self) -> Path:
        """The Fernet key file (used when `secret_key` is empty): TZUROT_SECRET_KEY_FILE, or secret.key in the
        data directory."""
        return Path(self.secret_key_file) if self.secret_key_file else self.data_dir / "secret.key"


# name -> (environment variable, parser, check, description). The README's configuration table mirrors this.
def _positive(v: float) -> bool:
    return v > 0


def _port(v: int) -> bool:
    return 0 < v < 65536


def _url(v: str) -> bool:
    return v.startswith(("http://", "https://", "ws://", "wss://"))


def _host_port_or_empty(v: str) -> bool:
    return not v or parse_host_port(v) is not None


def parse_host_port(text: str) -> tuple[str, int] | None:
    """`host:port` (a name, an IPv4 address, or `[v6]:port`) as (host, port); None when malformed."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _pool(v: int) -> bool:
    return 1 <= v <= 15


def _webhook_name(v: str) -> bool:
    return 1 <= len(v) <= 80 and "clyde" not in v.lower() and "discord" not in v.lower()


_FIELDS: dict[str, tuple[str, type, Any, str]] = {
    "data_dir": ("TZUROT_DATA_DIR", Path, None, "where the store, logs and keys live"),
    "database_url": ("TZUROT_DATABASE_URL", str, None,
                     "postgresql://user:password@host:5432/db: PostgreSQL (secret; empty: SQLite in the data dir)"),
    "database_listen_url": ("TZUROT_DATABASE_LISTEN_URL", str, None,
                            "PostgreSQL itself when TZUROT_DATABASE_URL is a PgBouncer (secret; empty: that URL)"),
    "database_idle_s": ("TZUROT_DATABASE_IDLE_S", float, _positive,
                        "an actor process closes its PostgreSQL connection after this long unused"),
    "log_max_bytes": ("TZUROT_LOG_MAX_BYTES", int, lambda v: v >= 65_536, "a log file is rotated at this size"),
    "log_keep": ("TZUROT_LOG_KEEP", int, _positive, "rotated files kept per log (name.1 the newest)"),
    "secret_key": ("TZUROT_SECRET_KEY", str, None, "Fernet key sealing users' AI keys (secret; empty: the key file)"),
    "secret_key_file": ("TZUROT_SECRET_KEY_FILE", str, None, "the key file (empty: secret.key in the data dir)"),
    "user_shards": ("TZUROT_USER_SHARDS", int, _positive, "number of UserShard supervisors"),
    "channel_shards": ("TZUROT_CHANNEL_SHARDS", int, _positive, "number of ChannelShard supervisors"),
    "live_actor_cap": ("TZUROT_LIVE_ACTOR_CAP", int, _positive, "live actors in total across shards"),
    "idle_passivate_s": ("TZUROT_IDLE_PASSIVATE_S", float, _positive, "idle time before an actor is stopped"),
    "backoff_first_s": ("TZUROT_BACKOFF_FIRST_S", float, _positive, "first restart delay"),
    "backoff_max_s": ("TZUROT_BACKOFF_MAX_S", float, _positive, "longest restart delay"),
    "intensity_max_restarts": ("TZUROT_INTENSITY_MAX_RESTARTS", int, _positive, "restarts allowed per window"),
    "intensity_window_s": ("TZUROT_INTENSITY_WINDOW_S", float, _positive, "restart intensity window"),
    "park_cooldown_s": ("TZUROT_PARK_COOLDOWN_S", float, _positive, "how long a parked actor stays stopped"),
    "liveness_period_s": ("TZUROT_LIVENESS_PERIOD_S", float, _positive, "period of the liveness check"),
    "actor_admin_port": ("TZUROT_ACTOR_ADMIN_PORT", int, _port, "TCP port of the Thespian admin"),
    "bind_host": ("TZUROT_BIND_HOST", str, None, "address actor sockets listen on (loopback or private only)"),
    "allow_public_bind": ("TZUROT_ALLOW_PUBLIC_BIND", int, lambda v: v in (0, 1),
                          "1: let actor sockets listen on a public address (anyone reaching them can run code)"),
    "convention_leader": ("TZUROT_CONVENTION_LEADER", str, _host_port_or_empty,
                          "`bot.py node`: the leader host:port (its TZUROT_ACTOR_ADMIN_PORT); empty: this node leads"),
    "node_name": ("TZUROT_NODE_NAME", str, lambda v: len(v) <= 64 and all(c.isalnum() or c in "-_." for c in v),
                  "this node's name in the tree (letters, digits, - _ .; empty: the host name)"),
    "node_heartbeat_s": ("TZUROT_NODE_HEARTBEAT_S", float, lambda v: 0.2 <= v <= 60,
                         "the leader's heartbeat to each node's shards; 5 missed: a shard starts elsewhere (0.2-60)"),
    "pending_cap": ("TZUROT_PENDING_CAP", int, _positive, "messages held for one actor while it (re)starts"),
    "direct_peers": ("TZUROT_DIRECT_PEERS", int, lambda v: 0 <= v <= 1000,
                     "peers (user <-> channel) one actor sends to directly, past the shards (0-1000; 0: never)"),
    "ask_timeout_s": ("TZUROT_ASK_TIMEOUT_S", float, _positive, "how long the edge waits for an actor"),
    "discord_token": ("DISCORD_TOKEN", str, None, "the bot's token (secret; without it the sandbox runs)"),
    "discord_api_base": ("DISCORD_API_BASE", str, _url, "Discord REST base, or a compatible server's"),
    "discord_gateway_url": ("DISCORD_GATEWAY_URL", str, _url, "Discord gateway, or a compatible server's"),
    "discord_global_rate": ("TZUROT_DISCORD_GLOBAL_RATE", float, _positive, "REST requests/s for the whole bot"),
    "shard_count": ("TZUROT_SHARD_COUNT", int, lambda v: 1 <= v <= MAX_GATEWAY_SHARDS,
                    "gateway shards of the whole bot (every edge must use the same count)"),
    "shard_ids": ("TZUROT_SHARD_IDS", str, None, "gateway shards this edge runs, comma-separated (empty: all)"),
    "bot_name": ("TZUROT_BOT_NAME", str, _webhook_name, "name of the bot's webhooks"),
    "webhook_pool_size": ("TZUROT_WEBHOOK_POOL_SIZE", int, _pool, "webhooks per channel (1-15)"),
    "no_webhook_notice_s": ("TZUROT_NO_WEBHOOK_NOTICE_S", float, _positive, "least time between 'no webhooks' notices"),
    "ai_base_url": ("AI_BASE_URL", str, None, "OpenAI-compatible base URL (empty: the local AI emulator)"),
    "ai_api_key": ("AI_API_KEY", str, None, "the operator's AI key (secret)"),
    "ai_model": ("AI_MODEL", str, None, "the operator's default model"),
    "ai_timeout_s": ("AI_TIMEOUT_S", float, _positive, "whole-request timeout of one AI call"),
    "ai_max_tokens": ("AI_MAX_TOKENS", int, lambda v: 0 <= v <= 100_000,
                      "longest answer, in tokens, unless a personality sets its own (0: not sent)"),
    "ai_transcribe_model": ("AI_TRANSCRIBE_MODEL", str, lambda v: 0 < len(v.strip()) <= 200,
                            "model of /audio/transcriptions, for voice messages and audio attachments"),
    "memory_embeddings": ("TZUROT_MEMORY_EMBEDDINGS", int, lambda v: v in (0, 1),
                          "1: recall memories by the AI backend's /embeddings when it offers them (else full-text)"),
    "ai_embedding_model": ("AI_EMBEDDING_MODEL", str, lambda v: 0 < len(v) <= 100 and " " not in v,
                           "the model asked for embeddings (1-100 characters, no spaces)"),
    "dm_requires_verification": ("TZUROT_DM_REQUIRES_VERIFICATION", int, lambda v: v in (0, 1),
                                 "1: every personality answers in DMs only users who ran `verify`"),
    "streaming": ("TZUROT_STREAMING", int, lambda v: v in (0, 1),
                  "1: a streamed answer is shown as it arrives, its message edited as it grows; 0: sent whole"),
    "user_rate_per_min": ("TZUROT_USER_RATE_PER_MIN", float, _positive, "turns a user may start a minute"),
    "user_burst": ("TZUROT_USER_BURST", int, _positive, "how many turns may start at once"),
    "daily_quota": ("TZUROT_DAILY_QUOTA", int, lambda v: v >= 0, "turns per user per UTC day (0: none)"),
    "user_commands_per_min": ("TZUROT_USER_COMMANDS_PER_MIN", float, _positive, "commands a user may send a minute"),
    "user_command_burst": ("TZUROT_USER_COMMAND_BURST", int, _positive, "how many commands may come at once"),
    "max_personalities_per_user": ("TZUROT_MAX_PERSONALITIES_PER_USER", int, lambda v: 1 <= v <= 10_000,
                                   "personalities one user may own"),
    "ai_slots": ("TZUROT_AI_SLOTS", int, lambda v: 1 <= v <= 1000,
                 "concurrent AI requests on the operator's key at most (1-1000)"),
    "ai_slots_adaptive": ("TZUROT_AI_SLOTS_ADAPTIVE", int, lambda v: v in (0, 1),
                          "1: find the backend's real concurrency (up to TZUROT_AI_SLOTS) from latency and 429s"),
    "ai_breaker_failures": ("TZUROT_AI_BREAKER_FAILURES", int, _positive, "failures in a row that open a breaker"),
    "ai_breaker_cooldown_s": ("TZUROT_AI_BREAKER_COOLDOWN_S", float, _positive, "how long an open breaker refuses"),
    "http_host": ("TZUROT_HTTP_HOST", str, None, "where /healthz, /metrics and /status listen"),
    "http_port": ("TZUROT_HTTP_PORT", int, lambda v: 0 <= v < 65536, "port of /healthz, /metrics, /status (0: any)"),
    "http_token": ("TZUROT_HTTP_TOKEN", str, None, "bearer token for the HTTP server (secret; needed off loopback)"),
    "http_ping": ("TZUROT_HTTP_PING", int, lambda v: v in (0, 1), "1: serve /ping?user= (starts an actor; benchmarks)"),
    "command_prefix": ("TZUROT_COMMAND_PREFIX", str, lambda v: 0 < len(v.strip()) <= 10, "command prefix"),
    "bot_owner_id": ("TZUROT_BOT_OWNER_ID", int, lambda v: v >= 0, "Discord user id of the bot's owner"),
    "command_guild": ("TZUROT_COMMAND_GUILD", int, lambda v: v >= 0,
                      "register slash commands in this one guild, at once (development); 0: globally"),
}


def variable(name: str) -> str:
    """The environment variable that sets the Settings field `name`."""
    return _FIELDS[name][0]


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the README and `--help`."""
    defaults = Settings()
    return [(env, str(getattr(defaults, name)), text) for name, (env, _, _, text) in _FIELDS.items()]


_SECRETS = {f.name for f in dataclasses.fields(Settings) if not f.repr}  # never echoed in an error


def is_fernet_key(text: str) -> bool:
    """Exactly 32 bytes, url-safe base64-encoded (44 characters, what Fernet.generate_key() gives)."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeError):
        return False
    return len(raw) == 32 and base64.urlsafe_b64encode(raw) == text.encode("ascii")


def _parse(name: str, env: str, kind: type, raw: Any) -> Any:
    try:
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
            raise ValueError("wrong type")
        if kind is not str and kind is not Path and not isinstance(raw, (str, int, float)):
            raise ValueError("wrong type")
        if kind in (str, Path) and not isinstance(raw, str):
            raise ValueError("not text")
        return kind(raw)
    except (TypeError, ValueError):
        shown = "the value" if name in _SECRETS else repr(raw)
        raise ConfigError(f"{env}: {shown} is not a valid {kind.__name__}") from None


def load(environ: dict[str, str] | None = None) -> Settings:
    """Read, parse and validate every setting; raise ConfigError naming the first bad one."""
    environ = dict(os.environ if environ is None else environ)
    from_file: dict[str, Any] = {}
    if path := environ.get("TZUROT_CONFIG"):
        try:
            from_file = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"TZUROT_CONFIG: cannot read {path}: {exc}") from None
        unknown = set(from_file) - set(_FIELDS)
        if unknown:
            raise ConfigError(f"TZUROT_CONFIG: unknown setting(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, (env, kind, check, _) in _FIELDS.items():
        raw = environ.get(env, from_file.get(name))
        if raw is None:
            continue
        value = _parse(name, env, kind, raw)
        if check is not None and not check(value):
            raise ConfigError(f"{env}: {raw!r} is out of range")
        values[name] = value
    settings = dataclasses.replace(Settings(), **values)
    if settings.backoff_max_s < settings.backoff_first_s:
        raise ConfigError("TZUROT_BACKOFF_MAX_S: must be at least TZUROT_BACKOFF_FIRST_S")
    if settings.secret_key and not is_fernet_key(settings.secret_key):
        raise ConfigError("TZUROT_SECRET_KEY: not a Fernet key (32 bytes as 44 url-safe base64 characters, "
                          "what cryptography's Fernet.generate_key() makes)")
    _check_http(settings)
    check_database_url(settings.database_url)
    check_database_url(settings.database_listen_url, "TZUROT_DATABASE_LISTEN_URL")
    if settings.database_listen_url and not settings.database_url:
        raise ConfigError("TZUROT_DATABASE_LISTEN_URL: set only with TZUROT_DATABASE_URL (PostgreSQL)")
    try:
        parse_shard_ids(settings.shard_ids, settings.shard_count)
    except ValueError as exc:
        raise ConfigError(f"TZUROT_SHARD_IDS: {exc}") from None
    _check_bind(settings)
    return settings


MAX_GATEWAY_SHARDS = 4096


def parse_shard_ids(text: str, count: int) -> tuple[int, ...]:
    """"0,2" -> (0, 2); "" -> every shard of `count`. ValueError (saying what is wrong) for anything else: a
    non-number, an id not below the count, a duplicate."""
    if not text.strip():
        return tuple(range(count))
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isascii() or not part.isdigit():
            raise ValueError(f"{part!r} is not a shard id (comma-separated whole numbers, like 0,1)")
        shard = int(part)
        if shard >= count:
            raise ValueError(f"shard {shard} is not below TZUROT_SHARD_COUNT ({count})")
        if shard in ids:
            raise ValueError(f"shard {shard} is listed twice")
        ids.append(shard)
    return tuple(ids)


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***: the only form in which a database URL is ever shown. Read by
    hand, not parsed: a password with an unencoded / ? # or @ breaks a parser's idea of where it ends, and must
    be hidden all the same (everything between the user name and the last @ is taken as the password)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}{':***' if colon else ''}{rest[at:]}"
    head, question, query = rest.partition("?")
    if "password" in query.lower():  # libpq also takes ?password=...
        query = "&".join("password=***" if p.lower().startswith("password") else p for p in query.split("&"))
    return f"{scheme}://{head}{question}{query}"


def check_database_url(url: str, name: str = "TZUROT_DATABASE_URL") -> None:
    """Empty (SQLite), or a postgresql:// URL naming a database; the password is never shown."""
    if not url:
        return
    problem = ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:  # its text may quote a piece of the password
        problem = "it is not a valid URL (percent-encode / ? # @ : in the password)"
    else:
        if "@" in parts.path or "@" in parts.query:
            problem = "the password (or user) holds / ? # or @: percent-encode them"
        elif parts.scheme not in ("postgresql", "postgres"):
            problem = "only postgresql:// URLs are supported (leave it empty for SQLite)"
        elif not parts.path.strip("/"):
            problem = "it names no database (postgresql://user@host:5432/DATABASE)"
    if problem:
        raise ConfigError(f"{name}: {redact_url(url)} is not usable: {problem}")


def is_loopback(host: str) -> bool:
    """Only this machine can reach `host` (127.0.0.0/8, ::1, localhost); "" and 0.0.0.0 mean every interface."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def is_private(host: str) -> bool:
    """Loopback, or a private network's address (RFC 1918: 10/8, 172.16/12, 192.168/16; RFC 4193: fc00::/7).
    "" and 0.0.0.0 (every interface) are not, nor is a name other than localhost (it may resolve anywhere)."""
    if is_loopback(host):
        return True
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    private = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("172.16.0.0/12"),
               ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("fc00::/7"))
    return any(address.version == net.version and address in net for net in private)


def _check_bind(settings: Settings) -> None:
    """Thespian unpickles whatever reaches its ports, so anyone who can reach one can run code in the bot: its
    actor sockets listen only on loopback or a private network unless the operator says otherwise."""
    if settings.allow_public_bind or is_private(settings.bind_host):
        return
    raise ConfigError(
        f"TZUROT_BIND_HOST: {settings.bind_host!r} is not a loopback or private (RFC 1918/4193) address; the actor "
        "system unpickles whatever reaches its ports, so anyone who can reach it could run code in the bot. Use "
        "127.0.0.1 or a private network's address, or set TZUROT_ALLOW_PUBLIC_BIND=1 if a firewall already "
        "keeps everyone else out")


def _check_http(settings: Settings) -> None:
    """The HTTP server's token: sendable in a header, not guessable, required off loopback; never echoed."""
    token = settings.http_token
    if token and not (len(token) >= 16 and token.isascii() and token.isprintable() and " " not in token):
        raise ConfigError("TZUROT_HTTP_TOKEN: must be at least 16 printable ASCII characters without spaces "
                          "(the value is not shown)")
    if not token and not is_loopback(settings.http_host):
        raise ConfigError(f"TZUROT_HTTP_TOKEN: must be set when TZUROT_HTTP_HOST ({settings.http_host!r}) is not a "
                          "loopback address, or /status would be open to the network")
