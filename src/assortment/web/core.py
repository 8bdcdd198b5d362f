"""What every workbench page shares: templates, the signed-in user, CSRF, the unit of work, and how
domain errors become alerts.

Routes are plain `def` functions (run in the thread pool, like the API's); they call the domain services
directly, in one transaction per request, so every rule and every error text is the API's own.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assortment.api.deps import AppContext, app_context
from assortment.api.errors import status_for
from assortment.db.engine import begin_write
from assortment.domain import users
from assortment.domain.users import SignedIn
from assortment.errors import DomainError, Forbidden, NotFound, describe_validation_problems

T = TypeVar("T")

HERE = Path(__file__).parent
SESSION_COOKIE = "assortment_session"
LOGIN_CSRF_COOKIE = "assortment_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
BAD_CSRF = "the form was stale or forged (missing or wrong CSRF token); reload the page and try again"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class SignInRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect to the sign-in page."""


class WebForbidden(Exception):
    """A signed-in user tried what their role or the CSRF check refuses; answered with a 403 page."""

    def __init__(self, detail: str, user: SignedIn | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.user = user


class WebRoute(APIRoute):
    """Workbench routes answer a refused request with a page, not the API's JSON error (same texts)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return render(
                    request,
                    "error.html",
                    user=getattr(request.state, "user", None),
                    status_code=status_for(exc),
                    title="Not found" if isinstance(exc, NotFound) else "Refused",
                    message=exc.detail or exc.__class__.__name__,
                )

        return answer


def render(
    request: Request,
    template: str,
    *,
    user: SignedIn | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(template).render(request=request, user=user, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect(url: str, request: Request | None = None) -> Response:
    """After a successful form post: see-other to the page (htmx follows HX-Redirect instead)."""
    if request is not None and request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def url_with(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def context_of(request: Request) -> AppContext:
    return app_context(request)


def signed_in(request: Request) -> SignedIn:
    """The user of the session cookie; pages without one redirect to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise SignInRequired
    context = context_of(request)
    idle = timedelta(seconds=context.settings.session_idle_seconds)
    with context.sessions() as session:
        found = users.resolve_session(session, token, idle)
    if found is None:
        raise SignInRequired
    user, stale = found
    request.state.user = user
    request.state.store_id = str(user.store_id) if user.store_id else "organization"
    if stale:
        with context.sessions() as session:
            begin_write(session)
            users.touch_session(session, token)
            session.commit()
    return user


UserDep = Annotated[SignedIn, Depends(signed_in)]


async def posted_form(request: Request) -> FormData:
    """The posted form, read once (the route itself runs in the thread pool)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def check_csrf(request: Request, user: SignedIn, form: FormData | None) -> None:
    sent = request.headers.get(CSRF_HEADER) or (str(form.get(CSRF_FIELD) or "") if form is not None else "")
    if not sent or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise WebForbidden(BAD_CSRF, user)


def editor(request: Request, user: UserDep, form: FormDep) -> SignedIn:
    """A state-changing request of a user who may change content: session, then CSRF, then role."""
    check_csrf(request, user, form)
    if not user.can_edit:
        raise WebForbidden(users.NEEDS_EDITOR, user)
    return user


EditorDep = Annotated[SignedIn, Depends(editor)]


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    with context_of(request).sessions() as session:
        yield session


@contextmanager
def writing(request: Request) -> Iterator[Session]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with context_of(request).sessions() as session:
        begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def attempt(work: Callable[[], T]) -> tuple[T | None, list[str], int]:
    """Run `work`; a refused change comes back as the API's error details and status, not raised."""
    try:
        return work(), [], 200
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            return None, [exc.detail or "forbidden"], 403
        return None, [exc.detail or exc.__class__.__name__], status_for(exc)
    except ValidationError as exc:
        return None, describe_validation_problems(exc.errors(include_url=False)), 422


def submit(
    request: Request,
    user: SignedIn,
    work: Callable[[Session], T],
    done: str | Callable[[T], str],
    refused: Callable[[list[str], int], Response],
) -> Response:
    """A form post that changes something through a service: `work` runs in one write transaction; done, a
    see-other to `done` (or to what it makes of the result); refused, the not-found page for a 404, else
    `refused(the API's details, the status to show)`."""

    def run() -> tuple[T]:
        with writing(request) as session:
            return (work(session),)

    result, errors, status = attempt(run)
    if result is None:
        if status == 404:
            return not_found(request, user, errors)
        return refused(errors, shown(status))
    return redirect(done if isinstance(done, str) else done(result[0]), request)


PAGE_SIZE = 25
MAX_PAGE = 400  # the API's offset limit (10,000) in pages of 25


def number(raw: str | None, default: int, low: int, high: int) -> int:
    """A whole number from a query value (ASCII digits only), clamped to [low, high]; else the default."""
    if raw is None or not raw.isascii() or not raw.isdigit():
        return default
    return max(low, min(int(raw), high))


def page_number(raw: str | None) -> int:
    return number(raw, 1, 1, MAX_PAGE)


def shown(status: int) -> int:
    """The status of a page that shows a refused change: an ordinary page (200) with the API's details
    in an alert, since the browser's console reports every 4xx page load as an error; a role or CSRF
    refusal keeps its 403."""
    return 403 if status == 403 else 200


def not_found(request: Request, user: SignedIn, errors: list[str]) -> Response:
    return render(request, "error.html", user=user, status_code=404, title="Not found", message=errors[0])


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
