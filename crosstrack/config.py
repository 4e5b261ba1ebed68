"""Settings from ``CROSSTRACK_*`` environment variables (pydantic-settings).

Defaults run everything embedded (chDB) under a local data directory, so the demo needs no
server. A bad value fails at start with the variable's name and the allowed form.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_K = 5  # the FAQ's floor: "five or more records"; configuration may only raise it


class SettingsError(RuntimeError):
    """A setting could not be used; the message names the variable and the allowed form."""


def _parse_years(value: object) -> list[int]:
    if isinstance(value, (list, tuple)):
        years = [int(v) for v in value]
    else:
        text = str(value).strip()
        years = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError(f"range {part!r} runs backwards")
                years.extend(range(lo, hi + 1))
            else:
                years.append(int(part))
    if not years:
        raise ValueError("no years given")
    for y in years:
        if not 1990 <= y <= 2100:
            raise ValueError(f"year {y} is outside 1990-2100")
    return sorted(set(years))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROSSTRACK_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=REPO_ROOT / ".crosstrack",
        description="Directory for the embedded engine, generated extracts, reject reports and the key file.",
    )
    clickhouse_url: str = Field(
        default="",
        description="chdb:///abs/path (embedded, default <data_dir>/chdb), chdb://memory, or http(s)://host:8123 (server).",
    )
    clickhouse_user: str = Field(default="default", description="User for a ClickHouse server.")
    clickhouse_password: str = Field(default="", description="Password for a ClickHouse server.")
    database: str = Field(default="crosstrack", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                          description="ClickHouse database holding the published facts.")
    cluster: str = Field(default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$",
                         description="ClickHouse cluster name; when set, DDL is ON CLUSTER with Distributed tables.")
    k: int = Field(default=MIN_K, description="Minimum distinct people in a published cell (>= 5).")
    snapshot_years: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: list(range(2017, 2025)),
        description="January 1 snapshots: a range 2017-2024 or a list 2017,2019,2024.",
    )
    person_key_secret: str = Field(
        default="",
        description="Secret for the HMAC that replaces person ids; empty: a random key kept in <data_dir>/person_key.secret.",
    )
    models_dir: Path = Field(default=REPO_ROOT / "models", description="Directory of the Cube-syntax model files.")
    host: str = Field(default="127.0.0.1", description="Bind address of the HTTP API and web page.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API and web page.")
    pg_host: str = Field(default="127.0.0.1", description="Bind address of the Postgres-protocol SQL surface.")
    pg_port: int = Field(default=15432, ge=0, le=65535, description="Port of the SQL surface (0: off).")
    pg_password: str = Field(default="", description="Password the SQL surface requires (empty: none).")
    pg_tls_cert: str = Field(default="", description="PEM certificate for TLS on the SQL surface.")
    pg_tls_key: str = Field(default="", description="PEM private key for TLS on the SQL surface.")
    pg_tls_required: bool = Field(default=False, description="Refuse plain (non-TLS) SQL connections; needs the TLS certificate and key.")
    pg_max_connections: int = Field(default=64, ge=1, le=10_000, description="Most concurrent SQL-surface connections; more get SQLSTATE 53300.")
    max_page_size: int = Field(default=10_000, ge=1, le=1_000_000, description="Largest page of rows one request may ask for.")
    max_dimensions: int = Field(default=6, ge=1, le=20, description="Most dimensions one request may group by.")
    max_filter_values: int = Field(default=200, ge=1, le=10_000, description="Most filter values in one request.")
    max_offset: int = Field(default=100_000, ge=0, description="Deepest row offset a request may page to.")
    query_timeout_s: float = Field(default=10.0, gt=0, le=600, description="ClickHouse max_execution_time per query.")
    query_max_memory: int = Field(default=2_000_000_000, ge=10_000_000, description="ClickHouse max_memory_usage per query, bytes.")
    query_max_result_rows: int = Field(default=200_000, ge=1, description="ClickHouse max_result_rows per query.")
    cache_bytes: int = Field(default=64_000_000, ge=0, description="Result cache size in bytes (0: off).")
    version_poll_s: float = Field(
        default=1.0, gt=0, le=60,
        description="With a ClickHouse server: how often a worker checks which data version is published "
                    "(requests never look it up themselves; the embedded engine needs no polling).")
    engine_connections: int = Field(default=0, ge=0, le=256, description="Engine connections that run reads side by side (0: two per core).")
    engine_queue: int = Field(default=64, ge=0, le=10_000, description="Reads that may wait for a busy engine connection; more get 503 with Retry-After.")
    engine_queue_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Longest wait for an engine connection before 503 with Retry-After.")
    rate_limit_per_minute: int = Field(default=0, ge=0, description="Requests (HTTP) and queries (SQL surface) per client per minute (0: off).")
    workers: int = Field(default=1, ge=1, le=64, description="API worker processes; more than 1 only with a ClickHouse server.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated proxy addresses or networks whose X-Forwarded-For is believed (empty: none).")
    max_body_bytes: int = Field(default=1_000_000, ge=1_024, le=1_000_000_000,
                                description="Largest HTTP request body, bytes; a larger one gets 413 before it is read.")
    max_url_bytes: int = Field(default=65_536, ge=1_024, le=10_000_000,
                               description="Longest HTTP request target (path and query), bytes; longer gets 414 while reading.")
    max_header_bytes: int = Field(default=16_384, ge=1_024, le=10_000_000,
                                  description="Most bytes of HTTP header names and values; more gets 431 while reading.")
    http_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                  description="Seconds a client has to send a whole HTTP request; idle or slower connections are closed.")
    # Longer than the connection pools of the clients and proxies in front of us (httpx 5 s, AWS
    # ALB and ingress-nginx 60 s): with uvicorn's 5 s, equal to httpx's pool expiry, the server
    # closed connections that a busy client was reusing that moment (a reset: httpx.ReadError).
    http_keep_alive_s: float = Field(default=75.0, gt=0, le=3600,
                                     description="Seconds an idle kept-alive HTTP connection stays open between requests.")
    pg_startup_timeout_s: float = Field(default=10.0, gt=0, le=600,
                                        description="Seconds a SQL client has for TLS, startup and authentication together.")
    pg_max_startups_per_client: int = Field(default=4, ge=1, le=1_000,
                                            description="Most SQL connections one address may have still authenticating.")
    pg_login_lockout_failures: int = Field(default=10, ge=1, le=10_000,
                                           description="Failed SQL logins from one address before it is locked out.")
    pg_login_lockout_s: float = Field(default=300.0, ge=1, le=86_400,
                                      description="Seconds an address stays locked out after too many failed SQL logins.")
    keep_versions: int = Field(default=5, ge=2, le=1_000,
                               description="Published data versions kept for rollback and data_version= (>= 2; the published one is always kept).")
    warm_questions: int = Field(default=200, ge=0, le=100_000,
                                description="Most asked questions answered on a new version before an online publish switches to it.")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, v: object) -> list[str]:
        import ipaddress

        parts = list(v) if isinstance(v, (list, tuple)) else [p.strip() for p in str(v or "").split(",")]
        out = []
        for p in parts:
            if not p:
                continue
            try:
                ipaddress.ip_network(p, strict=False)
            except ValueError:
                raise ValueError(f"{p!r} is not an IP address or network") from None
            out.append(p)
        return out

    @field_validator("snapshot_years", mode="before")
    @classmethod
    def _years(cls, v: object) -> list[int]:
        return _parse_years(v)

    @field_validator("k")
    @classmethod
    def _k_floor(cls, v: int) -> int:
        if v < MIN_K:
            raise ValueError(f"must be an integer >= {MIN_K}; k can be raised, never lowered")
        return v

    @field_validator("clickhouse_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not (v == "chdb://memory" or v.startswith("chdb:///") or v.startswith(("http://", "https://"))):
            raise ValueError("must be chdb:///absolute/path, chdb://memory or http(s)://host:port")
        return v

    @model_validator(mode="after")
    def _embedded_single_worker(self) -> "Settings":
        if self.workers > 1 and self.is_embedded:
            raise ValueError(
                "CROSSTRACK_WORKERS > 1 needs a ClickHouse server (CROSSTRACK_CLICKHOUSE_URL=http://...): "
                "the embedded engine belongs to one process"
            )
        return self

    @property
    def engine_url(self) -> str:
        return self.clickhouse_url or f"chdb://{(self.data_dir.resolve() / 'chdb').as_posix()}"

    @property
    def is_embedded(self) -> bool:
        return self.engine_url.startswith("chdb://")

    def secret_bytes(self) -> bytes:
        """The HMAC key for person_key; never logged."""
        if self.person_key_secret:
            return self.person_key_secret.encode()
        path = self.data_dir / "person_key.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            os.chmod(path, 0o600)
        return path.read_text().strip().encode()


def describe_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        name = "CROSSTRACK_" + str(e["loc"][0]).upper() if e["loc"] else "CROSSTRACK_*"
        field = Settings.model_fields.get(str(e["loc"][0])) if e["loc"] else None
        form = f" (allowed: {field.description})" if field and field.description else ""
        lines.append(f"{name}: {e['msg']}{form}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(describe_error(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
