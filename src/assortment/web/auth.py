"""Signing in and out of the workbench."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from assortment.domain import users
from assortment.errors import Forbidden, Unauthenticated
from assortment.web.core import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormDep,
    UserDep,
    WebRoute,
    check_csrf,
    context_of,
    form_text,
    new_csrf_token,
    redirect,
    render,
    writing,
)

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=WebRoute)

HOME = "/admin/products"
LOGIN_FORM_EXPIRED = "The sign-in form expired; please try again."


def _safe_next(raw: str | None) -> str:
    """Only a path of the workbench itself (no scheme, host or protocol-relative URL)."""
    if raw and raw.startswith("/admin") and not raw.startswith("//") and "\\" not in raw and "\n" not in raw:
        return raw
    return HOME


@router.get("")
def home(user: UserDep) -> Response:
    return redirect(HOME)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request, request.query_params.get("next"), error=None, status_code=200)


# A refused sign-in shows the form again with its alert as an ordinary page (200): the browser's console
# reports every 4xx page load as an error, and a mistyped password is no error of the page.
def _login_form(
    request: Request, next_url: str | None, error: str | None, status_code: int, email: str = ""
) -> Response:
    token = new_csrf_token()
    response = render(
        request,
        "login.html",
        status_code=status_code,
        csrf_token=token,
        next_url=_safe_next(next_url),
        error=error,
        email=email,
    )
    settings = context_of(request).settings
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.cookie_secure, path="/admin/login"
    )
    return response


@router.post("/login")
def login(request: Request, form: FormDep) -> Response:
    email = form_text(form, "email")
    password = form.get("password")
    next_url = form_text(form, "next")
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = form_text(form, CSRF_FIELD)
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return _login_form(request, next_url, LOGIN_FORM_EXPIRED, 200, email)
    if not isinstance(password, str) or not email:
        return _login_form(request, next_url, users.INVALID_CREDENTIALS, 200, email)
    try:
        with writing(request) as session:
            try:
                token, _ = users.sign_in(session, email, password)
            except Unauthenticated:
                session.commit()  # the failure is what the lock-out counts
                raise
    except Forbidden as exc:
        return _login_form(request, next_url, exc.detail, 200, email)
    except Unauthenticated as exc:
        return _login_form(request, next_url, exc.detail, 200, email)
    settings = context_of(request).settings
    response = redirect(_safe_next(next_url))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_idle_seconds * 3,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/admin",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    return response


@router.post("/logout")
def logout(request: Request, user: UserDep, form: FormDep) -> Response:
    check_csrf(request, user, form)
    with writing(request) as session:
        users.sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/admin/login")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response
