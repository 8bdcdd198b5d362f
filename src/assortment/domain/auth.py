"""API keys and access tokens.

Keys are (client_id, client_secret) pairs owned by a store or by the organization. Secrets are random
256-bit values, so a single SHA-256 digest is enough to store them safely (slow password hashes exist
for low-entropy human passwords and would only slow every token request down).

Tokens are stateless HS256 JWTs carrying the key, its store and the grant, so any number of them stay
valid at once and every server process sharing the signing key can check them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assortment.db.models import ApiKey, InstanceSecret, Store
from assortment.domain.tenancy import Grant, Principal
from assortment.errors import NotFound, Unauthenticated, ValidationFailed

TOKEN_ALGORITHM = "HS256"
SIGNING_KEY_NAME = "token_signing_key"
INVALID_TOKEN = "Unable to validate access token"


@dataclass(frozen=True)
class IssuedKey:
    client_id: str
    client_secret: str
    owner: str
    store_id: uuid.UUID | None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires: int
    expires_in: int
    identifier: Grant


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def load_signing_key(session: Session, configured: str | None) -> str:
    """The configured key, else the one kept in the database (created on first use)."""
    if configured:
        return configured
    existing = session.get(InstanceSecret, SIGNING_KEY_NAME)
    if existing is not None:
        return existing.value
    try:
        with session.begin_nested():
            session.add(InstanceSecret(name=SIGNING_KEY_NAME, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another process created it first; read theirs
    row = session.get(InstanceSecret, SIGNING_KEY_NAME, populate_existing=True)
    assert row is not None
    return row.value


def default_store(session: Session) -> Store:
    store = session.scalars(select(Store).where(Store.is_default).order_by(Store.created_at)).first()
    if store is None:
        raise NotFound("no default store; create one with `assortment stores create`")
    return store


def create_store(session: Session, name: str) -> Store:
    name = name.strip()
    if not name:
        raise ValidationFailed("name can not be empty")
    store = Store(name=name, is_default=False)
    session.add(store)
    session.flush()
    return store


def resolve_owner(session: Session, *, store_id: uuid.UUID | None, organization: bool) -> uuid.UUID | None:
    """The store a new key or user belongs to (None: the organization); without either, the default store."""
    if organization:
        return None
    if store_id is not None:
        if session.get(Store, store_id) is None:
            raise NotFound(f"store {store_id} does not exist")
        return store_id
    return default_store(session).id


def create_key(
    session: Session, name: str, *, store_id: uuid.UUID | None = None, organization: bool = False
) -> IssuedKey:
    """Create a key for a store (the default store when none is named) or for the organization."""
    if organization and store_id is not None:
        raise ValidationFailed("a key belongs either to a store or to the organization, not both")
    name = name.strip()
    if not name:
        raise ValidationFailed("name can not be empty")
    owner_store = resolve_owner(session, store_id=store_id, organization=organization)
    client_id = secrets.token_hex(20)
    client_secret = secrets.token_urlsafe(32)
    session.add(
        ApiKey(name=name, client_id=client_id, secret_hash=hash_secret(client_secret), store_id=owner_store)
    )
    session.flush()
    return IssuedKey(
        client_id=client_id,
        client_secret=client_secret,
        owner="organization" if owner_store is None else "store",
        store_id=owner_store,
    )


def authenticate_key(session: Session, client_id: str, client_secret: str | None) -> ApiKey:
    """Find the key; check the secret unless the grant needs none (implicit)."""
    key = session.scalars(select(ApiKey).where(ApiKey.client_id == client_id)).first()
    if key is None:
        raise Unauthenticated("invalid client credentials")
    if client_secret is not None and not hmac.compare_digest(key.secret_hash, hash_secret(client_secret)):
        raise Unauthenticated("invalid client credentials")
    return key


def issue_token(key: ApiKey, grant: Grant, signing_key: str, ttl_seconds: int) -> IssuedToken:
    now = int(time.time())
    expires = now + ttl_seconds
    claims = {
        "sub": str(key.id),
        "sto": str(key.store_id) if key.store_id else None,
        "gty": grant,
        "iat": now,
        "exp": expires,
        "jti": secrets.token_hex(8),
    }
    token = jwt.encode(claims, signing_key, algorithm=TOKEN_ALGORITHM)
    return IssuedToken(access_token=token, expires=expires, expires_in=ttl_seconds, identifier=grant)


def verify_token(token: str, signing_key: str) -> Principal:
    return decode_token(token, signing_key)[0]


def decode_token(token: str, signing_key: str) -> tuple[Principal, int]:
    """The caller a valid token stands for, and when the token expires (epoch seconds)."""
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "gty"]},
        )
        grant = claims["gty"]
        if grant not in ("client_credentials", "implicit"):
            raise Unauthenticated(INVALID_TOKEN)
        store = claims.get("sto")
        principal = Principal(
            key_id=uuid.UUID(claims["sub"]),
            store_id=uuid.UUID(store) if store else None,
            grant=grant,
        )
        return principal, int(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise Unauthenticated(INVALID_TOKEN) from exc
