"""The workbench: a server-rendered web UI for people, served under /admin beside the API.

`web → domain → db`, like `api`: the pages call the same services, so every rule and message is the API's.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assortment.web import auth, catalogs, hierarchies, prices, products, relationships, webhooks
from assortment.web.core import HERE, SignInRequired, WebForbidden, redirect, render

PREFIX = "/admin"
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
_SECURITY_NAMES = {name for name, _ in SECURITY_HEADERS}


class SecurityHeadersMiddleware:
    """Every /admin response carries the workbench's security headers (pages, redirects, assets, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _SECURITY_NAMES]
                headers.extend(SECURITY_HEADERS)
                if not path.startswith(PREFIX + "/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="admin-static")
    app.include_router(auth.router)
    app.include_router(products.router)
    app.include_router(hierarchies.router)
    app.include_router(relationships.router)
    app.include_router(relationships.on_products)
    app.include_router(catalogs.router)
    app.include_router(prices.router)
    app.include_router(webhooks.router)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path
        if request.method == "GET" and target.startswith(PREFIX) and target != PREFIX + "/login":
            login = f"{PREFIX}/login?next={target}"
        else:
            login = f"{PREFIX}/login"
        if request.method != "GET":
            # A write without a session is refused (and changes nothing); a browser is sent to sign in.
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": login})
            return render(
                request,
                "error.html",
                status_code=401,
                title="Signed out",
                message="Your session has ended. Sign in again.",
            )
        return redirect(login)

    @app.exception_handler(WebForbidden)
    async def forbidden(request: Request, exc: WebForbidden) -> Response:
        return render(request, "error.html", user=exc.user, status_code=403, title="Not allowed", message=exc.detail)

    app.add_middleware(SecurityHeadersMiddleware)
