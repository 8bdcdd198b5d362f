"""Settings, read once at the edge (CLI or ASGI factory) and passed in."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./assortment.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSORTMENT_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # When unset, a random signing key is generated once and kept in the database, so every server
    # process that shares the database accepts the tokens of every other one.
    secret_key: str | None = Field(default=None, min_length=32)
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    # Memory for rendered release-view pages kept by each server process (releases never change).
    read_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    # The workbench (/admin): a session ends after this long without a request; the cookie is marked
    # Secure when served over HTTPS (behind a proxy that terminates TLS, say so here).
    session_idle_seconds: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool = False
    # Operating it (SPEC §12): a bearer token that /metrics then requires; log lines as text or JSON.
    metrics_token: str | None = Field(default=None, min_length=1)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # Webhooks (SPEC §11.3): private and loopback targets allowed (development, tests; never link-local),
    # the first retry's delay (doubling, ±20 % jitter, at most 10 min), when a job gives up, whether this
    # server process runs a delivery loop, and how long events are kept.
    webhook_allow_private_urls: bool = False
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_max_age_seconds: float = Field(default=86400.0, gt=0)
    webhook_worker: bool = True
    webhook_lease_seconds: float = Field(default=60.0, gt=0)  # a delivery in flight when its process died
    event_retention_days: int = Field(default=30, ge=1)
    # For `make bench` only: this process records no events, so the cost of the outbox can be measured
    # against the same server without it. It breaks SPEC §11's promise; the server warns when it is set.
    bench_without_events: bool = False
    # The scheme, host and optional path prefix clients reach the API at (`https://shop.example.com`),
    # for the absolute links of the catalog service (SPEC §0.2) behind a proxy; unset: each request's own.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        return check_public_url(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def check_public_url(value: str | None) -> str | None:
    """An http(s) URL with a host and no query, fragment or credentials, without its trailing slash;
    empty means unset."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    problem = "must be an http:// or https:// URL with a host, like https://shop.example.com"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{problem}; it contains whitespace or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"{problem}; {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(problem)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not carry a query (?…) or a fragment (#…)")
    return value.rstrip("/")
