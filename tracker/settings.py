"""All configuration, from environment variables prefixed ``TRACKER_`` (or a ``.env`` file)."""

from __future__ import annotations

import enum
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "placeholder", "dev", "test"}


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class RunMode(enum.StrEnum):
    """Embedded: tasks run in-process, no Redis. Distributed: Celery workers on Redis."""

    EMBEDDED = "embedded"
    DISTRIBUTED = "distributed"


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The tracker's settings; one instance per process (see ``get_settings``)."""

    model_config = SettingsConfigDict(env_prefix="TRACKER_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    run_mode: RunMode = RunMode.EMBEDDED
    data_dir: Path = Path("tracker-data")
    database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"

    # Fernet keys (url-safe base64, 32 bytes), newest first; older keys still decrypt.
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Outbound fetch guard: hosts or CIDR networks that may be fetched although private.
    # Off by default; tests and the demo name loopback here explicitly.
    outbound_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    outbound_timeout_seconds: float = 10.0
    recheck_body_limit_bytes: int = 65536
    # URLs per re-check task and fetches in flight per task: a task's fixed costs (its message,
    # its reads, one transaction) are shared by more checks in a larger batch (BENCHMARKS.md).
    recheck_batch_size: int = Field(default=200, ge=1)
    recheck_concurrency: int = Field(default=50, ge=1)
    max_redirects: int = 5

    # Extra directories of policy files (TOML), read after the built-in ones.
    policy_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    # Cadence (seconds). The database decides what is due; these say how often to look.
    sweep_interval_seconds: float = 5.0
    lease_seconds: float = 120.0
    check_interval_active_seconds: float = 3600.0
    check_interval_acknowledged_seconds: float = 6 * 3600.0
    confirm_interval_seconds: float = 600.0
    removal_confirmations: int = 2
    poll_interval_seconds: float = 900.0
    watch_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0]
    )
    filing_max_attempts: int = 8
    filing_retry_base_seconds: float = 30.0

    # Escalation in depth: warn the caseworker at this fraction of a deadline, remind them
    # while a report waits on a person, and notify by e-mail and signed webhook.
    deadline_warning_fraction: float = Field(default=0.75, gt=0, lt=1)
    reminder_interval_seconds: float = 86400.0
    notification_max_attempts: int = 8
    notification_retry_base_seconds: float = 30.0
    webhook_timeout_seconds: float = 10.0
    # Watchdog: a due check older than this means the checker stopped; N failures in a row
    # on one channel or host raise an alert.
    checker_stall_seconds: float = 900.0
    # How long a starting process waits for its database (PostgreSQL restarting) before failing.
    startup_wait_seconds: float = 60.0
    failure_alert_threshold: int = 5

    # Where platforms are.
    sandbox_base_url: str = "http://127.0.0.1:8765"
    sandbox_api_token: SecretStr = SecretStr("sandbox-token")

    # E-mail filing (SMTP).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 15.0
    organisation_email: str = "takedowns@helpline.example"

    # HTTP server for ``tracker serve``.
    host: str = "127.0.0.1"
    port: int = 8000

    # Re-check engine politeness (per host, per batch; see workers/recheck/politeness.py).
    recheck_per_host_concurrency: int = Field(default=4, ge=1)
    recheck_per_host_min_interval_seconds: float = Field(default=0.5, ge=0)
    recheck_backoff_base_seconds: float = Field(default=1.0, ge=0)
    recheck_backoff_max_seconds: float = Field(default=300.0, ge=0)
    recheck_retry_after_max_seconds: float = Field(default=3600.0, ge=0)
    recheck_max_host_wait_seconds: float = Field(default=60.0, ge=0)
    recheck_retries: int = Field(default=1, ge=0)

    # --- re-check pipeline (workers/scheduler.py CheckFeeder, workers/recheck/runtime.py) ---
    # The re-check sweep runs this often and keeps about this many seconds of work queued at the
    # rate the workers take it (at least the minimum number of batches); see CheckFeeder.
    recheck_sweep_interval_seconds: float = Field(default=0.25, gt=0)
    recheck_queue_seconds: float = Field(default=2.0, gt=0)
    recheck_queue_min_batches: int = Field(default=2, ge=1)

    # --- shared politeness (workers/recheck/politeness_redis.py) ---
    # In distributed mode every worker shares each host's limits through Redis. A request's hold
    # on one of a host's slots lasts at most this long from its turn, so a killed worker's slots
    # free themselves; unset, a check's deadline (three read timeouts) and 5 s more.
    recheck_host_lease_seconds: float | None = Field(default=None, gt=0)
    # While Redis is unreachable hosts are limited per process; Redis is tried again after this.
    recheck_politeness_redis_retry_seconds: float = Field(default=5.0, gt=0)

    # --- access: authentication throttling, metrics (settings of the access area) ---
    # Proxies (addresses or CIDRs) whose X-Forwarded-For names the client; none by default, so
    # no client can choose the address its failed authentications are counted under.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Failed authentications per client address within the window before answers turn 429
    # (a sliding window; shared through Redis in distributed mode). Valid keys never count.
    auth_failure_limit: int = Field(default=20, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86400)
    # Counters and histograms (tracker/metrics): in distributed mode each process adds what it
    # observed to Redis hashes under this prefix at most this often, and /metrics reads them.
    metrics_namespace: str = Field(default="tracker:metrics", min_length=1, max_length=100)
    metrics_flush_interval_seconds: float = Field(default=1.0, gt=0, le=60)

    # --- alerts (settings of the alerts area) ---

    # --- intake and sandbox (settings of the intake area) ---
    # The sandbox platform (the local simulator and its adapter) exists only when this is on:
    # ``tracker serve --demo`` and the test suite turn it on; off, no URL is detected as the
    # sandbox, nothing files to it and no listing shows it.
    sandbox_enabled: bool = False
    # The body limit of an intake (POST /api/v1/cases/{id}/reports, the console's paste and
    # CSV forms) instead of request_body_limit_bytes: 10,000 URLs of up to about 400
    # characters each. A larger body is refused with 413 before it is read.
    intake_body_limit_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024 * 1024, le=64 * 1024 * 1024
    )

    # --- operations: demo, data folder, webhook (settings of the operations area) ---

    # --- API contract: request limits, logging (settings of the API area) ---
    # A request body over this is refused with 413 before it is read (uploads set their own).
    request_body_limit_bytes: int = Field(default=1024 * 1024, ge=1024)
    # "text" for people, "json" for log collectors: one object per line with request/job ids.
    log_format: Literal["text", "json"] = "text"

    # --- retention (tracker/evidence/retention.py) ---
    # Evidence of a case is purged this many days after the case closes (audited); None keeps
    # it until the case is withdrawn. A reopened case stops the count.
    evidence_retention_days: int | None = Field(default=365, ge=0)

    # --- evidence (tracker/evidence): where uploads and captures are stored, sealed ---
    # "disk" keeps them under DATA_DIR/evidence (0700, files 0600); "s3" in an S3-compatible
    # bucket. Either way each file is encrypted with its case's key before it is written.
    evidence_store: Literal["disk", "s3"] = "disk"
    evidence_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    evidence_s3_endpoint: str | None = None
    evidence_s3_bucket: str | None = None
    evidence_s3_access_key: str | None = None
    evidence_s3_secret_key: SecretStr | None = None
    evidence_s3_region: str = "us-east-1"

    # --- content matching (tracker/matching) ---
    # PDQ hashes within this many bits of a bank hash match (ThreatExchange's confident match).
    matching_pdq_threshold: int = Field(default=31, ge=0, le=127)
    # A video matches a banked one when this share of its frames (or of the banked one's)
    # finds a frame of the other (HMA's vPDQ rule).
    matching_vpdq_share: float = Field(default=0.8, gt=0, le=1)
    # An image or video a re-check (or a bank upload) hashes is read up to this many bytes and
    # hashed for at most this many seconds; the bytes are dropped either way.
    matching_max_media_bytes: int = Field(default=32 * 1024 * 1024, ge=65536)
    matching_hash_seconds: float = Field(default=20.0, gt=0)

    # --- the console (tracker/console) ---
    # A console session ends after this long without a request, and after the absolute limit
    # whatever happens; a helpline's shift is the natural unit.
    console_session_idle_seconds: float = Field(default=30 * 60.0, gt=0)
    console_session_absolute_seconds: float = Field(default=12 * 3600.0, gt=0)
    # Mark the session cookie Secure. None: when the request came over https (directly, or
    # from a trusted proxy that says so); set true behind a TLS-terminating proxy you trust.
    console_secure_cookies: bool | None = None

    @field_validator(
        "encryption_keys", "outbound_allowlist", "policy_dirs", "trusted_proxies", mode="before"
    )
    @classmethod
    def _lists_from_commas(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("watch_schedule_seconds", mode="before")
    @classmethod
    def _floats_from_commas(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("outbound_allowlist")
    @classmethod
    def _allowlist_entries_parse(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if not self.encryption_keys:
                raise ValueError("TRACKER_ENCRYPTION_KEYS is required outside development")
            for key in self.encryption_keys:
                if key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError("TRACKER_ENCRYPTION_KEYS holds a placeholder value")
            if self.database_url is None:
                raise ValueError("TRACKER_DATABASE_URL is required outside development")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL; in development the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tracker.sqlite3').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
