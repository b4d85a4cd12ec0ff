"""The server's settings: one registry, read from the environment only in ``Settings.from_env``.

Each setting is a field of the frozen ``Settings`` dataclass whose metadata carries its
environment variable and help text, so the CLI, ``docs/configuration.md`` and the test that keeps
the two in step all read the same list, ``SETTINGS``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from foureyes._protocol import MAX_SUBSCRIPTIONS_PER_CONNECTION
from foureyes.server.setting_spec import SettingSpec, parse_env_value, setting
from foureyes.server.smtp_config import SmtpConfig

# Values nested deeper than this could not be rendered back (``foureyes.server.renderable``).
MAX_JSON_DEPTH_CEILING = 200


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "FOUREYES_HOST", "Interface the server listens on.")
    port: int = setting(7444, "FOUREYES_PORT", "TCP port the server listens on.")
    database_url: str = setting(
        "sqlite:///.foureyes/foureyes.db",
        "FOUREYES_DATABASE_URL",
        "SQLAlchemy URL of the database: sqlite:///PATH, or postgresql+psycopg://... for "
        "several replicas on one database. A relative SQLite path is relative to the working "
        "directory; its parent directory is created if missing.",
    )
    secret_key_file: str = setting(
        "",
        "FOUREYES_SECRET_KEY_FILE",
        "File holding the key that seals webhook signing secrets in the database, created (0600) "
        "on first start. Empty means beside a SQLite database (`foureyes.db.key`), else "
        "`.foureyes/secret.key` in the working directory; every replica on one PostgreSQL "
        "database must use the same file.",
    )
    max_body_bytes: int = setting(
        1_048_576,
        "FOUREYES_MAX_BODY_BYTES",
        "Largest request body accepted; larger ones get 413 before they are parsed. This is "
        "also the size limit of every JSON value a client sends.",
    )
    max_json_depth: int = setting(
        64,
        "FOUREYES_MAX_JSON_DEPTH",
        "Deepest nesting of objects and arrays accepted in a JSON body (the body itself is level "
        f"1); deeper ones get 422 before anything is stored. At most {MAX_JSON_DEPTH_CEILING}.",
    )
    body_timeout_seconds: float = setting(
        30.0,
        "FOUREYES_BODY_TIMEOUT_SECONDS",
        "Time allowed for a request body to arrive in full, counted from the end of its headers; "
        "a slower one gets 408 and its connection is closed.",
    )
    long_poll_max_seconds: float = setting(
        55.0,
        "FOUREYES_LONG_POLL_MAX_SECONDS",
        "Largest `wait` a client may ask for when long-polling an item. Keep it under the idle "
        "timeout of any proxy in front of the server.",
    )
    webhook_timeout_seconds: float = setting(
        10.0,
        "FOUREYES_WEBHOOK_TIMEOUT_SECONDS",
        "Time allowed for one whole webhook delivery attempt: resolving, connecting, sending and "
        "reading the answer together, however slowly the receiver trickles it.",
    )
    webhook_max_response_bytes: int = setting(
        65_536,
        "FOUREYES_WEBHOOK_MAX_RESPONSE_BYTES",
        "Most bytes of a receiver's answer body read per attempt; the rest is not read (the "
        "connection is closed). Only the status code decides success.",
    )
    webhook_endpoint_concurrency: int = setting(
        4,
        "FOUREYES_WEBHOOK_ENDPOINT_CONCURRENCY",
        "Most delivery attempts in flight to one webhook endpoint at once; other endpoints' "
        "deliveries never wait for a slow one.",
    )
    webhook_poll_interval_seconds: float = setting(
        1.0,
        "FOUREYES_WEBHOOK_POLL_INTERVAL_SECONDS",
        "How often the delivery worker looks for due webhook deliveries when idle.",
    )
    expiry_poll_interval_seconds: float = setting(
        5.0,
        "FOUREYES_EXPIRY_POLL_INTERVAL_SECONDS",
        "Longest the expiry task sleeps before looking for requests whose deadline passed; it "
        "also wakes at the next deadline it knows of.",
    )
    audit_checkpoint_interval_seconds: float = setting(
        60.0,
        "FOUREYES_AUDIT_CHECKPOINT_INTERVAL_SECONDS",
        "How often the server signs a checkpoint of the audit log, when the log grew.",
    )
    audit_origin: str = setting(
        "",
        "FOUREYES_AUDIT_ORIGIN",
        "The audit log's name in its checkpoints, fixed when its key is made. Empty: the host "
        "of FOUREYES_PUBLIC_URL and /audit, else foureyes/audit.",
    )
    webhook_retry_max_seconds: float = setting(
        259_200.0,
        "FOUREYES_WEBHOOK_RETRY_MAX_SECONDS",
        "How long a webhook delivery is retried before it is marked failed (3 days).",
    )
    webhook_rotation_overlap_seconds: float = setting(
        86_400.0,
        "FOUREYES_WEBHOOK_ROTATION_OVERLAP_SECONDS",
        "After `foureyes webhooks rotate-secret`, how long the old secret keeps signing too.",
    )
    webhook_allow_private: bool = setting(
        False,
        "FOUREYES_WEBHOOK_ALLOW_PRIVATE",
        "Allow webhook URLs that resolve to private, loopback, link-local or reserved addresses.",
    )
    push_allow_private: bool = setting(
        False,
        "FOUREYES_PUSH_ALLOW_PRIVATE",
        "Allow Web Push endpoints that resolve to private, loopback, link-local or reserved addresses.",
    )
    public_url: str = setting(
        "",
        "FOUREYES_PUBLIC_URL",
        "Base URL reviewers reach the server at (e.g. `https://approvals.example.com`), used in "
        "setup and invitation links and in every link an email carries. Empty means "
        "`http://HOST:PORT`; required when `FOUREYES_SMTP_URL` is set.",
    )
    smtp_url: str = setting(
        "",
        "FOUREYES_SMTP_URL",
        "SMTP server the email channel sends through: `smtp://[user:password@]host:port` "
        "(plain, STARTTLS used when offered), `smtp://...?starttls=required` (refuse to send "
        "without STARTTLS) or `smtps://...` (implicit TLS, port 465 by default). Empty: email "
        "is not configured, and requests that name an email address are flagged as undeliverable.",
    )
    email_from: str = setting(
        "",
        "FOUREYES_EMAIL_FROM",
        "The `From` address of the email channel's messages (e.g. `Approvals <approvals@example.com>`); "
        "required with `FOUREYES_SMTP_URL`.",
    )
    email_link_max_age_seconds: float = setting(
        604_800.0,
        "FOUREYES_EMAIL_LINK_MAX_AGE_SECONDS",
        "How long the approve, reject and answer links in an email stay valid (7 days). A link "
        "also stops working once its request is decided.",
    )
    email_timeout_seconds: float = setting(
        30.0,
        "FOUREYES_EMAIL_TIMEOUT_SECONDS",
        "Time allowed for one whole email delivery attempt (connecting, TLS, sending).",
    )
    email_retry_max_seconds: float = setting(
        259_200.0,
        "FOUREYES_EMAIL_RETRY_MAX_SECONDS",
        "How long an email delivery is retried while the SMTP server is unreachable or refuses "
        "it for now, before it is marked failed (3 days).",
    )
    slack_bot_token: str = setting(
        "",
        "FOUREYES_SLACK_BOT_TOKEN",
        "Bot token (`xoxb-...`) the Slack channel posts with; a request's own `bot_token` wins, "
        "then the project's (`foureyes projects slack-token`). "
        "Empty, and none given: requests naming a Slack channel are flagged as undeliverable.",
    )
    slack_signing_secret: str = setting(
        "",
        "FOUREYES_SLACK_SIGNING_SECRET",
        "The Slack app's signing secret: `POST /slack/interactions` and `POST /slack/commands` "
        "accept only requests signed with it (within 5 minutes). Empty: every request from "
        "Slack is refused.",
    )
    slack_api_url: str = setting(
        "https://slack.com/api/",
        "FOUREYES_SLACK_API_URL",
        "Base URL of Slack's Web API (change it only to point at a stand-in).",
    )
    cookie_secure: bool = setting(
        False,
        "FOUREYES_COOKIE_SECURE",
        "Mark the inbox's cookies `Secure`, so browsers send them only over HTTPS. Turn it on "
        "whenever the inbox is served over HTTPS (also behind a TLS-terminating proxy).",
    )
    session_max_age_seconds: float = setting(
        43_200.0,
        "FOUREYES_SESSION_MAX_AGE_SECONDS",
        "How long an inbox sign-in lasts (12 hours).",
    )
    invitation_max_age_seconds: float = setting(
        604_800.0,
        "FOUREYES_INVITATION_MAX_AGE_SECONDS",
        "How long an invitation or first-admin setup link stays valid (7 days). Each link works once.",
    )
    login_max_failures: int = setting(
        5,
        "FOUREYES_LOGIN_MAX_FAILURES",
        "Failed sign-ins allowed for one account from one client address before that pair is locked out.",
    )
    login_max_failures_per_address: int = setting(
        100,
        "FOUREYES_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "Failed sign-ins allowed from one client address (an IPv6 /64), whatever the accounts, "
        "before the address is locked out.",
    )
    login_max_failures_per_account: int = setting(
        100,
        "FOUREYES_LOGIN_MAX_FAILURES_PER_ACCOUNT",
        "Failed sign-ins allowed for one account, whatever the addresses, before the account is "
        "locked out everywhere.",
    )
    login_lockout_seconds: float = setting(
        30.0,
        "FOUREYES_LOGIN_LOCKOUT_SECONDS",
        "The first lockout after too many failed sign-ins; each further failure doubles it.",
    )
    login_lockout_max_seconds: float = setting(
        3_600.0,
        "FOUREYES_LOGIN_LOCKOUT_MAX_SECONDS",
        "The longest a sign-in lockout grows to; failures are forgotten this long after the "
        "last one (or after the lock ends).",
    )
    forwarded_allow_ips: str = setting(
        "",
        "FOUREYES_FORWARDED_ALLOW_IPS",
        "Comma-separated addresses (or `*`) of reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` headers are believed. Empty: the client address is the connection's "
        "peer, whatever the headers say.",
    )
    password_hash_time_cost: int = setting(
        3,
        "FOUREYES_PASSWORD_HASH_TIME_COST",
        "argon2id passes over memory when hashing a password.",
    )
    password_hash_memory_kib: int = setting(
        65_536,
        "FOUREYES_PASSWORD_HASH_MEMORY_KIB",
        "argon2id memory per password hash, in KiB (64 MiB); at least 8 per lane.",
    )
    password_hash_parallelism: int = setting(
        4,
        "FOUREYES_PASSWORD_HASH_PARALLELISM",
        "argon2id lanes (threads) per password hash.",
    )
    ws_heartbeat_seconds: float = setting(
        20.0,
        "FOUREYES_WS_HEARTBEAT_SECONDS",
        "How often the WebSocket endpoint sends a `ping` frame; a client silent for two intervals "
        "is disconnected.",
    )
    ws_max_subscriptions_per_connection: int = setting(
        MAX_SUBSCRIPTIONS_PER_CONNECTION,
        "FOUREYES_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        "Items and runs one WebSocket connection may watch at once; a subscribe that would go "
        "over it is refused whole with a `too_many_subscriptions` error frame.",
    )
    ws_max_subscriptions_per_key: int = setting(
        20_000,
        "FOUREYES_WS_MAX_SUBSCRIPTIONS_PER_KEY",
        "Items and runs one API key may watch at once over all its WebSocket connections to one "
        "server process (not across replicas).",
    )
    ws_max_connections_per_key: int = setting(
        100,
        "FOUREYES_WS_MAX_CONNECTIONS_PER_KEY",
        "Open WebSocket connections one API key may hold on one server process (not across "
        "replicas); one more is closed with code 4429.",
    )
    revocation_recheck_seconds: float = setting(
        10.0,
        "FOUREYES_REVOCATION_RECHECK_SECONDS",
        "How often open WebSockets and inbox streams are re-checked against the database even "
        "without a revocation notice; a revoked key or removed person's stream ends within this.",
    )

    metrics_token: str = setting(
        "",
        "FOUREYES_METRICS_TOKEN",
        "Bearer token Prometheus must send to read `/metrics`. Empty: `/metrics` answers only "
        "clients on the loopback interface (behind a proxy on the same host, set "
        "`forwarded_allow_ips` or a token).",
    )
    log_format: str = setting(
        "text",
        "FOUREYES_LOG_FORMAT",
        "`text` (one readable line per record) or `json` (one JSON object per line), for the "
        "server's logs; each request's records carry its request id either way.",
    )

    def __post_init__(self) -> None:
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log_format must be text or json, not {self.log_format!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be between 1 and 65535, not {self.port}")
        if self.max_body_bytes <= 0:
            raise ValueError(f"max_body_bytes must be positive, not {self.max_body_bytes}")
        if not 1 <= self.max_json_depth <= MAX_JSON_DEPTH_CEILING:
            raise ValueError(
                f"max_json_depth must be between 1 and {MAX_JSON_DEPTH_CEILING}, not {self.max_json_depth}"
            )
        if not (math.isfinite(self.long_poll_max_seconds) and self.long_poll_max_seconds >= 0):
            raise ValueError(f"long_poll_max_seconds must be >= 0, not {self.long_poll_max_seconds}")
        for name in (
            "webhook_timeout_seconds",
            "webhook_poll_interval_seconds",
            "expiry_poll_interval_seconds",
            "audit_checkpoint_interval_seconds",
            "ws_heartbeat_seconds",
            "body_timeout_seconds",
            "revocation_recheck_seconds",
            "email_link_max_age_seconds",
            "email_timeout_seconds",
            "session_max_age_seconds",
            "invitation_max_age_seconds",
            "login_lockout_seconds",
            "login_lockout_max_seconds",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, not {value}")
        for name in (
            "webhook_max_response_bytes",
            "ws_max_subscriptions_per_connection",
            "ws_max_subscriptions_per_key",
            "ws_max_connections_per_key",
            "webhook_endpoint_concurrency",
            "login_max_failures",
            "login_max_failures_per_address",
            "login_max_failures_per_account",
            "password_hash_time_cost",
            "password_hash_parallelism",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                "password_hash_memory_kib must be at least 8 per lane "
                f"({8 * self.password_hash_parallelism}), not {self.password_hash_memory_kib}"
            )
        for name in (
            "webhook_retry_max_seconds",
            "webhook_rotation_overlap_seconds",
            "email_retry_max_seconds",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0, not {value}")
        if not self.database_url:
            raise ValueError("database_url must not be empty")
        if self.smtp_url:
            if not self.public_url:
                raise ValueError(
                    "FOUREYES_PUBLIC_URL must be set when FOUREYES_SMTP_URL is: every email carries "
                    "links to this server, and they must work from the reader's mail client"
                )
            if not self.email_from:
                raise ValueError("FOUREYES_EMAIL_FROM must be set when FOUREYES_SMTP_URL is")
            SmtpConfig.parse(self.smtp_url)  # a malformed URL fails at start, not at the first send

    @property
    def base_url(self) -> str:
        """Where reviewers reach the server: ``public_url``, else ``http://host:port``."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        file_values: Mapping[str, Any] | None = None,
        /,
        **overrides: Any,
    ) -> Settings:
        """Defaults, then the configuration file's ``file_values`` (``config_file``), then
        environment variables, then ``overrides`` (e.g. CLI options)."""
        environ = os.environ if environ is None else environ
        known = {spec.name for spec in SETTINGS}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            if spec.name in overrides:
                values[spec.name] = overrides[spec.name]
            elif spec.env and environ.get(spec.env, "") != "":
                values[spec.name] = parse_env_value(spec, environ[spec.env])
            elif file_values and spec.name in file_values:
                values[spec.name] = file_values[spec.name]
        return cls(**values)


SETTINGS: list[SettingSpec] = [
    SettingSpec(name=f.name, default=f.default, env=f.metadata["env"], help=f.metadata["help"])
    for f in dataclasses.fields(Settings)
]
