"""Settings: the seed's variables keep their names; ours are prefixed ``SCRIPTFLOW_``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scriptflow.errors import ScriptflowError

MIN_SECRET_BYTES = 32
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "changethis",
        "secret",
        "jwt-secret",
        "your-secret",
        "your-secret-key",
        "supersecret",
        "please-change-me",
        "replace-me",
        "development",
        "test",
    }
)


class ConfigurationError(ScriptflowError):
    code = "CONFIGURATION_ERROR"


class Settings(BaseSettings):
    """Everything scriptflow reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="SCRIPTFLOW_", extra="ignore")

    # The seed's names.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    jwt_secret: SecretStr | None = Field(default=None, validation_alias="JWT_SECRET")
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        default="HS256", validation_alias="JWT_ALGORITHM"
    )
    jwt_expires_in: int = Field(default=900, ge=30, le=86400, validation_alias="JWT_EXPIRES_IN")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")

    # Ours.
    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    jwt_issuer: str = "scriptflow"
    jwt_audience: str = "scriptflow-api"
    refresh_expires_in: int = Field(default=14 * 86400, ge=60)
    # Seconds in which a used refresh token may be presented again (concurrent refreshes)
    # and still get a pair instead of revoking its family (RFC 9700 section 4.14.2).
    refresh_grace_s: float = Field(default=10.0, ge=0, le=60)
    max_script_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=4096)
    rate_limit_login_per_minute: int = 20
    rate_limit_register_per_minute: int = 10
    rate_limit_enhance_per_minute: int = 30
    rate_limit_runs_per_minute: int = 120
    openai_models: list[str] = Field(
        default_factory=lambda: ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"]
    )
    openai_timeout_s: float = 60.0
    openai_max_retries: int = 2
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0)
    # Whether this process serves the notebook apps (the dashboard and /notebooks/*, whose
    # kernels live in the process that opened them). API processes behind a load balancer turn
    # it off; one `scriptflow notebooks` process serves them instead (docs/deploy.md).
    notebooks: bool = True
    browser_executable: Path | None = None
    browser_ws_endpoint: str | None = None
    run_timeout_s: int = Field(default=300, ge=5)
    run_memory_mb: int = Field(default=2048, ge=256)
    run_max_attempts: int = Field(default=3, ge=1)
    run_lease_s: int = Field(default=30, ge=5)
    # Seconds between a worker's sweeps for abandoned runs and outbox entries, and how long a
    # finished run's outbox entry stays its writer's (0: six run leases). Short only in tests.
    run_reap_every_s: float = Field(default=5.0, gt=0)
    outbox_claim_s: float = Field(default=0, ge=0)
    artifact_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    allow_private_egress: bool | None = None
    # Where clients reach this server (e.g. https://qa.example.com); links and artifact URLs
    # are built from it, never from the request's Host header. Unset: links are relative.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    # /metrics: with a token, only `Authorization: Bearer <token>` reads it; without one it is
    # open in development and answers loopback clients only in production.
    metrics_token: SecretStr | None = None
    # /docs, /redoc and /openapi.json; default on in development, off in production.
    docs_enabled: bool | None = None
    demo_app_port: int = 0
    # Run isolation (docs/runs.md, "Isolation"): namespaces through bubblewrap when
    # available; "legacy" is the weaker Landlock sandbox, refused in production.
    run_isolation: Literal["auto", "namespaces", "legacy"] = "auto"
    # Origins (http://host:port) and CIDR ranges a run may reach besides its environment's
    # origin, even when private; "origin-only" refuses public destinations too.
    run_egress_allow: str = ""
    run_egress: Literal["public", "origin-only"] = "public"
    run_max_processes: int = Field(default=512, ge=32)
    run_max_open_files: int = Field(default=4096, ge=256)
    run_max_file_mb: int = Field(default=512, ge=1)
    run_tmp_mb: int = Field(default=512, ge=16)
    run_shm_mb: int = Field(default=64, ge=1)
    # The niceness runs execute at (docs/runs.md, "CPU priority"); 0 runs them beside the rest.
    run_nice: int = Field(default=10, ge=0, le=19)
    # Peers whose X-Forwarded-For / Forwarded headers are believed (comma-separated
    # addresses or CIDR ranges); empty: the TCP peer is the client.
    trusted_proxies: str = ""
    # How long an idle HTTP keep-alive connection stays open (uvicorn's own default is 5 s).
    # Longer than a proxy's or client's idle timeout, so the peer closes first: a server that
    # closes an idle connection just as the peer reuses it drops that request.
    keep_alive_s: int = Field(default=75, ge=1, le=3600)
    # The JWT secret read from a file (mode 0600), so it never sits in the environment.
    jwt_secret_file: Path | None = Field(default=None, validation_alias="JWT_SECRET_FILE")
    # Scale-out (docs/deploy.md). Analytics data files (Parquet): a local or shared directory,
    # or s3://bucket/prefix; default <data dir>/analytics/lake. The DuckLake catalog lives in
    # the PostgreSQL database (schema ``analytics_catalog_schema``) or, on the embedded default,
    # in a SQLite file under <data dir>/analytics.
    analytics_data_path: str | None = None
    analytics_catalog_schema: str = Field(default="scriptflow_analytics", pattern=r"^[a-z_]{1,48}$")
    # Seconds between compactions of small appends (0: never; `scriptflow analytics compact`).
    analytics_compact_every_s: int = Field(default=600, ge=0)
    # Seconds between the lake writer's looks at the warehouse queue when no wake-up came (on
    # PostgreSQL a NOTIFY wakes it at once): bounds how long a finished run waits for the lake.
    analytics_drain_every_s: float = Field(default=0.5, gt=0, le=60)
    # Where artifacts go: a directory (default <data dir>/artifacts, may be a shared mount) or
    # s3://bucket/prefix with the AWS_* variables below.
    artifacts_url: str | None = None
    # When > 0 and the store is S3, downloads redirect to a URL presigned for this many seconds.
    artifacts_presign_s: int = Field(default=0, ge=0, le=7 * 86400)
    # The usual S3 variables (any S3-compatible server: AWS, MinIO, Ceph...).
    s3_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    s3_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    s3_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Resolved once, at start-up: run processes and notebooks work in other directories.
        return value.expanduser().resolve()

    @field_validator("run_egress_allow")
    @classmethod
    def _valid_egress_allow(cls, value: str) -> str:
        from scriptflow.runs.egress import parse_allow_list

        parse_allow_list(value)  # ValueError names the bad item
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_trusted_proxies(cls, value: str) -> str:
        import ipaddress

        for item in filter(None, (part.strip() for part in value.split(","))):
            ipaddress.ip_network(item, strict=False)
        return value

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: DATABASE_URL, or the embedded SQLite file."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'scriptflow.db').as_posix()}"

    @property
    def libpq_database_url(self) -> str | None:
        """DATABASE_URL as a plain ``postgresql://`` URI (libpq, psycopg), None off PostgreSQL."""
        from sqlalchemy.engine import make_url

        url = make_url(sync_database_url(self.resolved_database_url))
        if url.get_backend_name() != "postgresql":
            return None
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    @property
    def resolved_analytics_data_path(self) -> str:
        """Where DuckLake writes Parquet files (a directory ending in / or an s3:// prefix)."""
        path = self.analytics_data_path or str(self.data_dir / "analytics" / "lake")
        return path if path.endswith("/") else path + "/"

    @property
    def resolved_artifacts_url(self) -> str:
        """The artifact store: a directory path or ``s3://bucket/prefix``."""
        return self.artifacts_url or str(self.data_dir / "artifacts")

    @property
    def serves_docs(self) -> bool:
        return (not self.is_production) if self.docs_enabled is None else self.docs_enabled

    @property
    def private_egress_allowed(self) -> bool:
        if self.allow_private_egress is None:
            return not self.is_production
        return self.allow_private_egress

    def resolve_jwt_secret(self) -> str:
        """The signing secret; refuses a weak one in production, generates one in development."""
        given = self.jwt_secret.get_secret_value() if self.jwt_secret else None
        if not given and self.jwt_secret_file is not None:
            given = _read_secret_file(self.jwt_secret_file)
        if given and is_strong_secret(given):
            return given
        if self.is_production:
            raise ConfigurationError(
                "JWT_SECRET is missing, shorter than 32 bytes or a known placeholder; "
                "set it to a random value, e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`"
            )
        return _development_secret(self.data_dir)


def _read_secret_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"JWT_SECRET_FILE cannot be read: {exc.strerror}") from None


def is_strong_secret(value: str) -> bool:
    """At least 256 bits and not a well-known placeholder."""
    return len(value.encode()) >= MIN_SECRET_BYTES and value.lower() not in PLACEHOLDER_SECRETS


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the async driver."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


def sync_database_url(url: str) -> str:
    """The synchronous twin of an async URL (migrations and bulk extraction)."""
    url = normalise_database_url(url)
    if url.startswith("postgresql+asyncpg://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.split(":///", 1)[1]
    return url


def _development_secret(data_dir: Path) -> str:
    path = data_dir / ".jwt_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
