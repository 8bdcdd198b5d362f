"""Webhook integrations (SPEC §11.1): validation, the SSRF guard, ownership, jobs, logs and redelivery."""

from __future__ import annotations

import ipaddress
import socket
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from assortment.db.models import Integration, IntegrationJob
from assortment.db.repositories import integrations as repo
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain.paging import Page, Paging
from assortment.domain.parsing import parse_uuid
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound, ValidationFailed

MAX_OBSERVES = 20
MAX_URL = 2048


# --- the SSRF guard ---------------------------------------------------------------------------------------


def refused_address(address: str, allow_private: bool) -> str | None:
    """Why a target address is refused (link-local, multicast, unspecified always; loopback and private
    unless allowed), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_private or ip.is_reserved:
        return "private"
    return None


def check_target(url: str, allow_private: bool) -> str | None:
    """Why delivering to `url` is refused, or None: every address its host is or resolves to must be
    allowed. A name that does not resolve (yet) is not refused here; its delivery fails and is retried."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
        except (OSError, UnicodeError):
            return None
    for address in addresses:
        reason = refused_address(address, allow_private)
        if reason is not None:
            return f"configuration.url: {host} is a {reason} address, which webhooks may not call"
    return None


# --- validation -------------------------------------------------------------------------------------------


def _check_url(url: Any, allow_private: bool) -> None:
    if not isinstance(url, str) or not url:
        raise ValidationFailed("configuration.url: Field required")
    if len(url) > MAX_URL:
        raise ValidationFailed(f"configuration.url: must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise ValidationFailed("configuration.url: must be an http or https URL with a host") from exc
    if parts.scheme not in ("http", "https") or not host or not url.isascii() or any(c.isspace() for c in url):
        raise ValidationFailed("configuration.url: must be an http or https URL with a host")
    reason = check_target(url, allow_private)
    if reason is not None:
        raise ValidationFailed(reason)


def _check(values: dict[str, Any], allow_private: bool, *, creating: bool) -> None:
    if creating:
        for name in ("name", "integration_type", "observes"):
            if values.get(name) is None:
                raise ValidationFailed(f"{name}: Field required")
        if values.get("url") is None:
            raise ValidationFailed("configuration.url: Field required")
    for name in ("name", "integration_type", "observes", "enabled", "url", "configuration"):
        if name in values and values[name] is None:
            raise ValidationFailed(f"{name}: can not be null")
    if "name" in values and not 1 <= len(values["name"]) <= 255:
        raise ValidationFailed("name: must be 1 to 255 characters")
    if "integration_type" in values and values["integration_type"] != "webhook":
        raise ValidationFailed(f"integration type {values['integration_type']!r} is not supported")
    if "observes" in values:
        observes = values["observes"]
        if not 1 <= len(observes) <= MAX_OBSERVES:
            raise ValidationFailed(f"observes: must name 1 to {MAX_OBSERVES} keys")
        unknown = [key for key in observes if key not in events.OBSERVABLE_KEYS]
        if unknown:
            raise ValidationFailed(f"observes: {unknown[0]} is not an observable key")
    if "url" in values:
        _check_url(values["url"], allow_private)
    secret = values.get("secret_key")
    if secret is not None and len(secret) > 255:
        raise ValidationFailed("configuration.secret_key: must be at most 255 characters")


@dataclass
class IntegrationService:
    session: Session
    principal: Principal
    allow_private: bool = False

    def get(self, integration_id: str) -> Integration:
        parsed = parse_uuid(integration_id)
        found = None if parsed is None else repo.get(self.session, self.principal.visible_scopes, parsed)
        if found is None:
            raise NotFound(f"integration {integration_id} not found")
        return found

    def _writable(self, integration_id: str) -> Integration:
        integration = self.get(integration_id)
        self.principal.check_can_modify(integration.scope_id)
        return integration

    def list(self, paging: Paging) -> Page[Integration]:
        return repo.list_integrations(self.session, self.principal.visible_scopes, paging)

    def create(self, values: dict[str, Any]) -> Integration:
        _check(values, self.allow_private, creating=True)
        now = utcnow()
        integration = Integration(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            name=values["name"],
            description=values.get("description"),
            enabled=bool(values.get("enabled") or False),
            integration_type="webhook",
            observes=list(dict.fromkeys(values["observes"])),
            url=values["url"],
            secret_key=values.get("secret_key"),
            created_at=now,
            updated_at=now,
        )
        self.session.add(integration)
        self.session.flush()
        self._event("integration.created", integration)
        return integration

    def update(self, integration_id: str, values: dict[str, Any]) -> Integration:
        integration = self._writable(integration_id)
        _check(values, self.allow_private, creating=False)
        for name in ("name", "description", "enabled", "url", "secret_key"):
            if name in values:
                setattr(integration, name, values[name])
        if "observes" in values:
            integration.observes = list(dict.fromkeys(values["observes"]))
        integration.updated_at = utcnow()
        self.session.flush()
        self._event("integration.updated", integration)
        return integration

    def delete(self, integration_id: str) -> None:
        integration = self._writable(integration_id)
        self.session.delete(integration)
        self.session.flush()
        self._event("integration.deleted", integration)

    def _event(self, triggered_by: str, integration: Integration) -> None:
        events.record(self.session, self.principal, triggered_by, integration, integration.id, integration.scope_id)

    # --- jobs and logs ------------------------------------------------------------------------------------

    def jobs(self, integration_id: str, paging: Paging) -> Page[Any]:
        integration = self.get(integration_id)
        return repo.list_jobs(self.session, integration.pk, paging)

    def job(self, integration: Integration, job_id: str) -> IntegrationJob:
        parsed = parse_uuid(job_id)
        job = None if parsed is None else repo.get_job(self.session, integration.pk, parsed)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def logs(self, integration_id: str | None, paging: Paging, job_id: str | None = None) -> Page[Any]:
        integration_pk = job_pk = None
        if integration_id is not None:
            integration = self.get(integration_id)
            integration_pk = integration.pk
            if job_id is not None:
                job_pk = self.job(integration, job_id).pk
        return repo.list_logs(
            self.session, self.principal.visible_scopes, paging, integration_pk=integration_pk, job_pk=job_pk
        )

    def redeliver(self, integration_id: str, job_id: str) -> IntegrationJob:
        """Send the job's event again, as a new attempt, as soon as a delivery loop gets to it."""
        integration = self._writable(integration_id)
        job = self.job(integration, job_id)
        now = utcnow()
        job.status = "pending"
        job.next_attempt_at = now
        job.updated_at = now
        self.session.flush()
        return job
