"""Settings, read once at the edge (CLI or ASGI factory) and passed in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
