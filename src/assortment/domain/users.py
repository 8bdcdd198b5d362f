"""Workbench users: accounts, passwords, sign-in with lock-out, and browser sessions.

A user is the person-shaped twin of an API key: it belongs to a store or to the organization and sees
exactly what a key of that owner sees (its `principal`). Passwords are hashed with argon2id; sessions are
random tokens of which only a digest is stored, with a CSRF token of their own and an idle expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assortment.db.models import SignInFailure, User, UserSession
from assortment.db.types import utcnow
from assortment.domain.auth import resolve_owner
from assortment.domain.tenancy import Principal
from assortment.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
# A session's last use is written at most this often, so reading pages does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)

INVALID_CREDENTIALS = "Invalid email or password"
LOCKED_OUT = "Too many failed sign-in attempts for this email. Try again in 15 minutes."
NEEDS_EDITOR = "your role can only read; changing content needs the editor or admin role"
NEEDS_ADMIN = "only an admin can do this"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A resolved session: who, with what rights, and the CSRF token its forms must carry."""

    user_id: uuid.UUID
    email: str
    role: Role
    store_id: uuid.UUID | None
    csrf_token: str

    @property
    def principal(self) -> Principal:
        return Principal(key_id=self.user_id, store_id=self.store_id, grant="client_credentials", actor="user")

    @property
    def can_edit(self) -> bool:
        return self.role in ("editor", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require_editor(self) -> None:
        if not self.can_edit:
            raise Forbidden(NEEDS_EDITOR)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden(NEEDS_ADMIN)


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise ValidationFailed(f"email: {raw.strip()!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


def create_user(
    session: Session,
    email: str,
    role: str,
    password: str,
    *,
    store_id: uuid.UUID | None = None,
    organization: bool = False,
) -> User:
    """Create a user of a store (the default store when none is named) or of the organization."""
    if organization and store_id is not None:
        raise ValidationFailed("a user belongs either to a store or to the organization, not both")
    if role not in ROLES:
        raise ValidationFailed(f"role: must be one of {', '.join(ROLES)}")
    address = normalise_email(email)
    password_hash = hash_password(password)
    owner_store = resolve_owner(session, store_id=store_id, organization=organization)
    user = User(id=uuid.uuid4(), email=address, password_hash=password_hash, role=role, store_id=owner_store)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise ValidationFailed(f"email: a user with the email {address} already exists") from exc
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.email)))


def emails_by_id(session: Session, ids: list[str]) -> dict[str, str]:
    """The email of each user id given (as text) that names a user; others are left out."""
    parsed = []
    for raw in ids:
        try:
            parsed.append(uuid.UUID(raw))
        except ValueError:
            continue
    if not parsed:
        return {}
    return {str(u.id): u.email for u in session.scalars(select(User).where(User.id.in_(parsed)))}


def find_user(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"no user with the email {email.strip()}")
    return user


def delete_user(session: Session, email: str) -> None:
    """Delete the user; their sessions go with them (signed out everywhere)."""
    user = find_user(session, email)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.delete(user)
    session.flush()


def set_password(session: Session, email: str, password: str) -> None:
    """Change the password and sign the user out everywhere."""
    user = find_user(session, email)
    user.password_hash = hash_password(password)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()


def owner_of(user: User) -> str:
    return "organization" if user.store_id is None else "store"


def user_document(user: User) -> dict[str, str | None]:
    return {
        "id": str(user.id),
        "email": user.email,
        "role": user.role,
        "owner": owner_of(user),
        "store_id": str(user.store_id) if user.store_id else None,
    }


# --- sign-in ------------------------------------------------------------------------------------


def locked_until(session: Session, email: str, now: datetime) -> datetime | None:
    """When the email's lock-out ends, if it is locked: a lock starts at the failure that makes ten within
    fifteen minutes and lasts fifteen minutes from there."""
    since = now - LOCKOUT_WINDOW - LOCKOUT_DURATION
    times = list(
        session.scalars(
            select(SignInFailure.at)
            .where(SignInFailure.email == email, SignInFailure.at > since)
            .order_by(SignInFailure.at)
        )
    )
    span = LOCKOUT_FAILURES - 1
    ends = [
        times[i] + LOCKOUT_DURATION for i in range(span, len(times)) if times[i] - times[i - span] <= LOCKOUT_WINDOW
    ]
    latest = max(ends, default=None)
    return latest if latest is not None and latest > now else None


def sign_in(session: Session, email: str, password: str) -> tuple[str, SignedIn]:
    """Check the credentials and open a session; returns the cookie token and the session.

    A wrong email and a wrong password fail alike (same message, a hash computed either way); every
    failure is recorded for the lock-out, and a locked email is refused even with the right password.
    The caller commits a failure as well as a success (it is what the lock-out counts)."""
    now = utcnow()
    address = email.strip().lower()
    if locked_until(session, address, now) is not None:
        raise Forbidden(LOCKED_OUT)
    user = session.scalars(select(User).where(User.email == address)).first() if address else None
    if user is None:
        burn_time(password)
    if user is None or not _verify(user.password_hash, password):
        if address:
            session.add(SignInFailure(email=address[:320], at=now))
            session.flush()
        raise Unauthenticated(INVALID_CREDENTIALS)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.execute(delete(SignInFailure).where(SignInFailure.at < now - LOCKOUT_WINDOW - LOCKOUT_DURATION))
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, _signed_in(user, row)


_DUMMY_HASH = _hasher.hash("not a password of anybody's")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Spend what a verification costs (an unknown email must not answer faster than a wrong password)."""
    _verify(_DUMMY_HASH, password)


def resolve_session(session: Session, token: str, idle: timedelta) -> tuple[SignedIn, bool] | None:
    """The signed-in user of a cookie token, or None when unknown or idle for too long. The flag says
    whether the session's last use should be written (see `touch_session`)."""
    if not token or len(token) > 128:
        return None
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.last_seen_at + idle < now:
        return None
    return _signed_in(user, row), row.last_seen_at + TOUCH_EVERY < now


def touch_session(session: Session, token: str) -> None:
    row = session.get(UserSession, _digest(token))
    if row is not None:
        row.last_seen_at = utcnow()
        session.flush()


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signed_in(user: User, row: UserSession) -> SignedIn:
    role: Role = user.role  # type: ignore[assignment]  # the CHECK constraint keeps it one of ROLES
    return SignedIn(user_id=user.id, email=user.email, role=role, store_id=user.store_id, csrf_token=row.csrf_token)
