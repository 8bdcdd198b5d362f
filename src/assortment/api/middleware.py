"""Pure ASGI middleware: a request id on every response, a cap on body size, and the refusal of paths,
queries and JSON bodies holding what no database can store (NUL, lone surrogates)."""

from __future__ import annotations

import logging
import re
import uuid

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.api.errors import error_object, internal_error_body

log = logging.getLogger("assortment.api")
REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def request_id_for(sent: bytes | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    if sent is not None:
        candidate = sent.decode("latin-1")
        if _SAFE_REQUEST_ID.match(candidate):
            return candidate
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Keep a caller's X-Request-ID if it is sane, else mint one; echo it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(dict(scope["headers"]).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, raw_id))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Whatever no exception handler caught: log it, answer 500 in the API's error format.
            log.exception("unexpected error (request %s)", request_id)
            if started:
                raise
            body = internal_error_body(request_id)
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})


def has_nul(scope: Scope) -> bool:
    """Whether the path or query holds a NUL character (raw or percent-encoded)."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class RejectNulMiddleware:
    """A NUL character in the path or query can match nothing and PostgreSQL cannot take it: 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            await send_error(scope, send, 400, "the request path and query must not contain NUL characters")
            return
        await self.app(scope, receive, send)


# A `\u` escape of a UTF-16 surrogate (D800-DFFF) with the run of backslashes before it: an odd run is
# an escape, an even one is escaped backslashes followed by a literal "u". Group 2: 8-B high, C-F low.
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
LONE_SURROGATE_DETAIL = "Request body is not valid JSON: a \\u escape spells a lone UTF-16 surrogate"


def has_lone_surrogate(body: bytes) -> bool:
    """Whether a JSON text has a `\\uD800`-`\\uDFFF` escape that is not half of a surrogate pair."""
    if b"\\u" not in body:
        return False
    pair_end = -1  # where the low half must start after a high one
    for match in _SURROGATE_ESCAPE.finditer(body):
        if len(match.group(1)) % 2 == 0:
            continue
        escape_at = match.end(1) - 1
        if match.group(2) in b"89abAB":
            if pair_end != -1:
                return True
            pair_end = match.end()
        elif escape_at != pair_end:
            return True
        else:
            pair_end = -1
    return pair_end != -1


class RejectLoneSurrogatesMiddleware:
    """A JSON string may spell a lone surrogate (`"\\ud800"`). Python parses it into a str that is not
    text: neither database can store it and the response encoder cannot write it back (a 500 wherever it
    went). Such a body is refused as malformed JSON, 400, before any handler sees it. Every body is
    checked, whatever its content type: the JSON handlers parse what they get (no upload takes files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    chunks.clear()
                    if has_lone_surrogate(body):
                        # Raised inside the app, so its exception handlers render the usual error body.
                        raise HTTPException(400, LONE_SURROGATE_DETAIL)
            return message

        await self.app(scope, checked_receive, send)


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = 0
                if announced > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app, so its exception handlers render the usual error body.
                    raise HTTPException(413, f"request bodies are limited to {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_error(scope, send, 413, f"request bodies are limited to {self.max_bytes} bytes")


async def send_error(scope: Scope, send: Send, status: int, detail: str) -> None:
    """Answer from a middleware (outside the app's exception handlers) in the API's error format."""
    error = error_object(status, detail, request_id=scope.get("state", {}).get("request_id"))
    body = orjson.dumps({"errors": [error]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
