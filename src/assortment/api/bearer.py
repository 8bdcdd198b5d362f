"""Bearer tokens verified once per process, for the handlers that answer outside the framework."""

from __future__ import annotations

import time
from collections.abc import Callable

from assortment.domain import auth
from assortment.domain.tenancy import Principal
from assortment.errors import Unauthenticated

MAX_TOKENS = 10_000


class Tokens:
    """Bearer tokens this process has verified, shared with the read cache (`ReleaseViewCache.tokens`,
    which the access log also reads to name the store of a request answered outside the framework)."""

    def __init__(self, known: dict[bytes, tuple[Principal, int]], signing_key: Callable[[], str]) -> None:
        self.known = known
        self.signing_key = signing_key

    def principal(self, header: bytes | None) -> Principal | None:
        if not header or header[:7].lower() != b"bearer ":
            return None
        token = header[7:].strip()
        cached = self.known.get(token)
        if cached is not None:
            return cached[0] if cached[1] > time.time() else None
        try:
            principal, expires = auth.decode_token(token.decode("latin-1"), self.signing_key())
        except Unauthenticated:
            return None
        except Exception:  # the signing key could not be read (database down): the framework answers, 503
            return None
        if len(self.known) >= MAX_TOKENS:
            self.known.clear()
        self.known[token] = (principal, expires)
        return principal
