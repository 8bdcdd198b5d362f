"""Workbench catalogs and releases (SPEC §4, §10, §13.2): list, create and edit catalogs; `Publish` with
progress; the `Releases` table with the latest marked; `Browse` a release as a shopper sees it; `Compare`
two releases (§10.1); `Make latest` (§10.2).

Every step calls what the API calls (CatalogService, publish in `in_snapshot`, ReleaseService,
ChangesService), so rules and messages are the API's. A release is shown from the very documents the
release view serves.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response, StreamingResponse

from assortment.db.engine import in_snapshot
from assortment.db.models import Catalog, Release
from assortment.domain.catalogs import MAX_PRICEBOOKS, CatalogService
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Paging
from assortment.domain.prices import PricebookService
from assortment.domain.products import parse_id
from assortment.domain.publish import publish, publish_lock_name
from assortment.domain.release_changes import KINDS, Change, ChangesService
from assortment.domain.releases import ReleaseService
from assortment.domain.users import SignedIn
from assortment.errors import DomainError, NotFound
from assortment.schemas.catalogs import CatalogCreateRequest, CatalogUpdateRequest
from assortment.web.core import (
    MAX_PAGE,
    PAGE_SIZE,
    EditorDep,
    FormDep,
    UserDep,
    WebRoute,
    attempt,
    context_of,
    form_text,
    not_found,
    page_number,
    reading,
    redirect,
    render,
    shown,
    submit,
    url_with,
)

log = logging.getLogger("assortment.web")

router = APIRouter(prefix="/admin/catalogs", include_in_schema=False, route_class=WebRoute)

DONE = {
    "created": "Catalog created.",
    "saved": "Catalog saved.",
    "published": "Published: the new release is latest.",
    "restored": "The release is latest now.",
    "deleted": "Catalog deleted.",
    "release-deleted": "Release deleted.",
}
CHOICES_SHOWN = 100  # hierarchies and price books offered in the form
BOOK_ROWS = MAX_PRICEBOOKS  # price book rows in the form (SPEC §9.5: at most 5)
NEW_LOCALE_ROWS = 2  # blank locale rows in the form, after the catalog's own
RELEASES_SHOWN = 10  # a catalog keeps 3 (§4.2); more only while a retention is pending
BROWSE_NODES = 100
CHANGES_SHOWN = 25  # per group (created, updated, deleted) on one page of a comparison
PROGRESS_HEADER = "x-publish-progress"
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,10}")


def release_label(release: Release) -> str:
    """How pages name a release: when it was published, and the start of its id (two may share a second)."""
    when = release.published_at.strftime("%Y-%m-%d %H:%M:%S") if release.published_at else "unpublished"
    return f"{when} · {str(release.id)[:8]}"


def _notice(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


# --- catalogs ---------------------------------------------------------------------------------------------


@router.get("")
def catalog_list(request: Request, user: UserDep) -> Response:
    page = page_number(request.query_params.get("page"))
    with reading(request) as session:
        found = CatalogService(session, user.principal).list_catalogs(None, Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE))
    more = found.total > page * PAGE_SIZE
    return render(
        request,
        "catalogs/list.html",
        user=user,
        title="Catalogs",
        catalogs=found.items,
        total=found.total,
        page=page,
        notice=_notice(request),
        previous_url=url_with("/admin/catalogs", page=page - 1) if page > 1 else None,
        next_url=url_with("/admin/catalogs", page=page + 1) if more and page < MAX_PAGE else None,
    )


@router.get("/new")
def new_catalog(request: Request, user: UserDep) -> Response:
    return _form(request, user, None, {"hierarchy_ids": [], "books": [], "locales": []}, [], 200)


def _form(
    request: Request,
    user: SignedIn,
    catalog_id: str | None,
    values: dict[str, Any],
    errors: list[str],
    status_code: int,
) -> Response:
    with reading(request) as session:
        hierarchies = HierarchyService(session, user.principal).list_hierarchies(None, Paging(CHOICES_SHOWN, 0))
        books = PricebookService(session, user.principal).list_books(None, Paging(CHOICES_SHOWN, 0))
    chosen = [str(h) for h in values.get("hierarchy_ids") or []]
    offered = sorted(hierarchies.items, key=lambda h: (chosen.index(str(h.id)) if str(h.id) in chosen else len(chosen)))
    book_rows = list(values.get("books") or [])[:BOOK_ROWS]
    book_rows += [("", "")] * (BOOK_ROWS - len(book_rows))
    locale_rows = list(values.get("locales") or []) + [("", "", "")] * NEW_LOCALE_ROWS
    return render(
        request,
        "catalogs/form.html",
        user=user,
        status_code=status_code,
        title="Edit catalog" if catalog_id else "New catalog",
        catalog_id=catalog_id,
        values=values,
        chosen=chosen,
        hierarchies=offered,
        books=books.items,
        book_rows=book_rows,
        locale_rows=locale_rows,
        errors=errors,
    )


def _priority(raw: str) -> int | str:
    """A typed priority as a whole number; anything else as typed, for the API's own message."""
    text = raw.strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else text


def _book_rows(form: FormData) -> list[tuple[str, str]]:
    """(price book id, priority as typed) of the rows that name a book, in the form's order."""
    ids, priorities = form.getlist("pricebook"), form.getlist("priority")
    rows = []
    for index, raw in enumerate(ids):
        book = raw.strip() if isinstance(raw, str) else ""
        priority = priorities[index] if index < len(priorities) else ""
        if book:
            rows.append((book, priority.strip() if isinstance(priority, str) else ""))
    return rows


def _locale_rows(form: FormData) -> list[tuple[str, str, str]]:
    """(locale, name, description) of the rows that name a locale."""
    codes, names, descriptions = (form.getlist(f"locale_{part}") for part in ("code", "name", "description"))
    rows = []
    for index, raw in enumerate(codes):
        code = raw.strip() if isinstance(raw, str) else ""
        if code:
            name = names[index] if index < len(names) else ""
            description = descriptions[index] if index < len(descriptions) else ""
            rows.append((code, str(name).strip(), str(description).strip()))
    return rows


def _attributes(form: FormData, *, creating: bool) -> dict[str, Any]:
    """The name and the hierarchies are always sent (blank ones get the API's messages); hierarchies in the
    order ticked boxes appear. Price books: one without a priority is sent as `pricebook_id`, else every book
    chosen as `pricebook_ids` with its priority (a blank one missing, for the API's message); none chosen,
    left out on create and cleared on edit. Locales likewise: the rows that name one, or cleared on edit."""
    attributes: dict[str, Any] = {
        "name": form_text(form, "name"),
        "description": str(form.get("description") or "").strip(),
        "hierarchy_ids": [v for v in form.getlist("hierarchy") if isinstance(v, str) and v],
    }
    books = _book_rows(form)
    if len(books) == 1 and not books[0][1]:
        attributes["pricebook_id"] = books[0][0]
    elif books:
        attributes["pricebook_ids"] = [
            {"id": book, **({"priority": _priority(priority)} if priority else {})} for book, priority in books
        ]
    elif not creating:
        attributes["pricebook_id"] = None
    locales = _locale_rows(form)
    if locales:
        attributes["locales"] = {
            code: {key: value for key, value in (("name", name), ("description", description)) if value}
            for code, name, description in locales
        }
    elif not creating:
        attributes["locales"] = None
    return attributes


def _values(form: FormData, attributes: dict[str, Any]) -> dict[str, Any]:
    """What the form shows again after a refusal: what was typed."""
    return {**attributes, "books": _book_rows(form), "locales": _locale_rows(form)}


@router.post("")
def create_catalog(request: Request, user: EditorDep, form: FormDep) -> Response:
    attributes = _attributes(form, creating=True)

    def work(session: Session) -> Catalog:
        body = CatalogCreateRequest.model_validate({"data": {"type": "catalog", "attributes": attributes}})
        return CatalogService(session, user.principal).create(body.data.attributes)

    return submit(
        request,
        user,
        work,
        lambda created: f"/admin/catalogs/{created.id}?done=created",
        lambda errors, status: _form(request, user, None, _values(form, attributes), errors, status),
    )


@router.get("/{catalog_id}/edit")
def edit_catalog(request: Request, catalog_id: str, user: UserDep) -> Response:
    with reading(request) as session:
        catalog = CatalogService(session, user.principal).get(catalog_id)
    values = {
        "name": catalog.name,
        "description": catalog.description,
        "hierarchy_ids": list(catalog.hierarchy_ids or []),
        "books": [(str(book), "" if priority is None else str(priority)) for book, priority in _stack(catalog)],
        "locales": [
            (code, str(entry.get("name") or ""), str(entry.get("description") or ""))
            for code, entry in (catalog.locales or {}).items()
        ],
    }
    return _form(request, user, str(catalog.id), values, [], 200)


def _stack(catalog: Catalog) -> list[tuple[str, int | None]]:
    """The catalog's price books as (id, priority), highest priority first (equal ones in the catalog's
    order, SPEC §9.5); `pricebook_id` has no priority of its own."""
    if catalog.pricebook_id is not None:
        return [(str(catalog.pricebook_id), None)]
    entries = [(str(e.get("id")), e.get("priority")) for e in catalog.pricebook_ids or []]
    ranked = sorted(enumerate(entries), key=lambda item: (-(item[1][1] or 0), item[0]))
    return [entry for _, entry in ranked]


@router.post("/{catalog_id}")
def update_catalog(request: Request, catalog_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes = _attributes(form, creating=False)

    def work(session: Session) -> Catalog:
        body = CatalogUpdateRequest.model_validate(
            {"data": {"type": "catalog", "id": catalog_id, "attributes": attributes}}
        )
        return CatalogService(session, user.principal).update(catalog_id, body.data.id, body.data.attributes)

    return submit(
        request,
        user,
        work,
        lambda updated: f"/admin/catalogs/{updated.id}?done=saved",
        lambda errors, status: _form(request, user, catalog_id, _values(form, attributes), errors, status),
    )


# --- a catalog and its releases -----------------------------------------------------------------------------


@router.get("/{catalog_id}")
def catalog_page(request: Request, catalog_id: str, user: UserDep) -> Response:
    return _catalog_page(request, user, catalog_id, [], 200)


def _catalog_page(request: Request, user: SignedIn, catalog_id: str, errors: list[str], status_code: int) -> Response:
    with reading(request) as session:
        catalog, releases = ReleaseService(session, user.principal).list_releases(catalog_id, Paging(RELEASES_SHOWN, 0))
        names = _hierarchy_names(session, user, catalog)
        books = _book_names(session, user, catalog)
    return render(
        request,
        "catalogs/page.html",
        user=user,
        label=release_label,
        status_code=status_code,
        title=catalog.name,
        catalog=catalog,
        hierarchy_names=names,
        books=books,
        releases=releases.items,
        errors=errors,
        notice=None if errors else _notice(request),
    )


@dataclass(frozen=True, slots=True)
class ShownBook:
    id: str
    name: str | None  # None: deleted since (the next publish is refused)
    priority: int | None


def _book_names(session: Session, user: SignedIn, catalog: Catalog) -> list[ShownBook]:
    service = PricebookService(session, user.principal)
    shown_books = []
    for book_id, priority in _stack(catalog):
        try:
            name: str | None = service.get(book_id).name
        except NotFound:
            name = None
        shown_books.append(ShownBook(book_id, name, priority))
    return shown_books


def _hierarchy_names(session: Session, user: SignedIn, catalog: Catalog) -> list[tuple[str, str | None]]:
    service = HierarchyService(session, user.principal)
    named: list[tuple[str, str | None]] = []
    for raw in (catalog.hierarchy_ids or [])[:CHOICES_SHOWN]:
        try:
            named.append((str(raw), service.get_hierarchy(str(raw)).name))
        except NotFound:
            named.append((str(raw), None))
    return named


@router.post("/{catalog_id}/publish")
def publish_catalog(request: Request, catalog_id: str, user: EditorDep) -> Response:
    """Publish as `POST /pcm/catalogs/{id}/releases` does. The page's script asks for progress: then the
    answer is a stream of JSON lines (stage, done, total), ending with where to go or the refusal."""
    with reading(request) as session:
        catalog = CatalogService(session, user.principal).get(catalog_id)
    sessions = context_of(request).sessions
    principal = user.principal
    target = f"/admin/catalogs/{catalog.id}"

    def run(progress: Any) -> None:
        def work(session: Session) -> Release:
            return publish(session, principal, catalog_id, progress=progress)

        in_snapshot(sessions, publish_lock_name(catalog_id), work)

    if request.headers.get(PROGRESS_HEADER) != "stream":
        def work() -> bool:
            run(None)
            return True

        done, errors, status = attempt(work)
        if not done:
            return _catalog_page(request, user, catalog_id, errors, shown(status))
        return redirect(f"{target}?done=published", request)

    lines: queue.Queue[bytes | None] = queue.Queue()

    def report(stage: str, done: int, total: int) -> None:
        lines.put(orjson.dumps({"stage": stage, "done": done, "total": total}) + b"\n")

    def background() -> None:
        try:
            run(report)
            lines.put(orjson.dumps({"url": f"{target}?done=published"}) + b"\n")
        except DomainError as exc:
            lines.put(orjson.dumps({"error": exc.detail or exc.__class__.__name__}) + b"\n")
        except Exception:
            log.exception("publish from the workbench failed")
            lines.put(orjson.dumps({"error": "the publish failed; see the server log"}) + b"\n")
        finally:
            lines.put(None)

    threading.Thread(target=background, name=f"publish-{catalog.id}", daemon=True).start()

    def stream() -> Iterator[bytes]:
        while (line := lines.get()) is not None:
            yield line

    return StreamingResponse(stream(), media_type="application/x-ndjson")


@router.post("/{catalog_id}/releases/{release_id}/restore")
def make_latest(request: Request, catalog_id: str, release_id: str, user: EditorDep) -> Response:
    return submit(
        request,
        user,
        lambda session: ReleaseService(session, user.principal).restore(catalog_id, release_id),
        f"/admin/catalogs/{catalog_id}?done=restored",
        lambda errors, status: _catalog_page(request, user, catalog_id, errors, status),
    )


@router.post("/{catalog_id}/releases/{release_id}/delete")
def delete_release(request: Request, catalog_id: str, release_id: str, user: EditorDep) -> Response:
    """As `DELETE /pcm/catalogs/{id}/releases/{rid}`: the latest one gone, the most recently published left
    is latest."""
    return submit(
        request,
        user,
        lambda session: ReleaseService(session, user.principal).delete_release(catalog_id, release_id),
        f"/admin/catalogs/{catalog_id}?done=release-deleted",
        lambda errors, status: _catalog_page(request, user, catalog_id, errors, status),
    )


@router.post("/{catalog_id}/delete")
def delete_catalog(request: Request, catalog_id: str, user: EditorDep) -> Response:
    """As `DELETE /pcm/catalogs/{id}`: refused, with the API's words, while it has releases or a catalog
    rule names it."""
    return submit(
        request,
        user,
        lambda session: CatalogService(session, user.principal).delete(catalog_id),
        "/admin/catalogs?done=deleted",
        lambda errors, status: _catalog_page(request, user, catalog_id, errors, status),
    )


# --- browse a release ---------------------------------------------------------------------------------------


def _documents(items: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(item) for item in items]


@router.get("/{catalog_id}/releases/{release_id}")
def browse_release(request: Request, catalog_id: str, release_id: str, user: UserDep) -> Response:
    """The release as a shopper sees it: its hierarchies, a hierarchy's top nodes or a node's children,
    and the products there with their prices in the chosen currency and the way down as bread crumbs."""
    params = request.query_params
    currency = params.get("currency", "").strip()[:3] or None
    every_product = params.get("products") == "all"
    page = page_number(params.get("page"))
    paging = Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE)
    with reading(request) as session:
        service = ReleaseService(session, user.principal, currency=currency)
        ref = service.resolve(catalog_id, release_id)
        hierarchies = _documents(service.hierarchies(ref, None, Paging(BROWSE_NODES, 0)).items)
        chosen = params.get("hierarchy") or (hierarchies[0]["id"] if hierarchies else None)
        node_id = params.get("node")
        node = None
        nodes: list[dict[str, Any]] = []
        products: list[dict[str, Any]] = []
        total = 0
        if node_id and parse_id(node_id):
            node = orjson.loads(service.node(ref, node_id))
            chosen = node["relationships"]["hierarchy"]["data"]["id"]
            nodes = _documents(service.nodes(ref, None, Paging(BROWSE_NODES, 0), parent_id=node_id).items)
            found = service.node_products(ref, node_id, None, paging)
            products, total = _documents(found.items), found.total
        elif chosen and parse_id(chosen):
            nodes = _documents(service.nodes(ref, None, Paging(BROWSE_NODES, 0), top_level_of=chosen).items)
            if every_product:  # a slice of the positions publish kept (a pass over the links before they were)
                found = service.hierarchy_products(ref, chosen, None, paging)
                products, total = _documents(found.items), found.total
        pricing = service.pricing(ref)
        latest = ref.catalog.latest_release_pk == ref.release.pk
    base = f"/admin/catalogs/{ref.catalog.id}/releases/{ref.release.id}"
    here = {
        "hierarchy": chosen if not node else None,
        "node": node_id if node else None,
        "products": "all" if every_product and not node else None,
        "currency": currency,
    }
    return render(
        request,
        "catalogs/browse.html",
        user=user,
        label=release_label,
        title=f"{ref.catalog.name}: a release",
        catalog=ref.catalog,
        release=ref.release,
        latest=latest,
        base=base,
        hierarchies=hierarchies,
        chosen=chosen,
        node=node,
        crumbs=(node or {}).get("meta", {}).get("breadcrumbs", [])[:-1] if node else [],
        nodes=nodes,
        products=products,
        total=total,
        every_product=every_product or bool(node),
        every_product_url=url_with(base, hierarchy=chosen, products="all", currency=currency),
        page=page,
        currency=pricing.display.code,
        currencies=[c["code"] for c in ref.release.currencies or []],
        previous_url=url_with(base, **here, page=page - 1) if page > 1 else None,
        next_url=url_with(base, **here, page=page + 1) if total > page * PAGE_SIZE and page < MAX_PAGE else None,
    )


# --- compare two releases -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShownChange:
    change: Change
    name: str | None
    fields: list[str]


@router.get("/{catalog_id}/releases/{release_id}/compare")
def compare_releases(request: Request, catalog_id: str, release_id: str, user: UserDep) -> Response:
    """§10.1 between a release and the one chosen (default: the release before), grouped by what happened."""
    since = request.query_params.get("since", "").strip() or None
    page = page_number(request.query_params.get("page"))
    start = (page - 1) * CHANGES_SHOWN

    def work() -> dict[str, Any]:
        with reading(request) as session:
            changes_service = ChangesService(session, user.principal)
            pages = changes_service.pages_by_kind(catalog_id, release_id, since, start, CHANGES_SHOWN)
            changes = pages.changes
            fields = changes_service.fields(changes, changes.items)
            names = changes_service.names(changes, changes.items)
            ref = changes.ref
            kept = ReleaseService(session, user.principal).list_releases(catalog_id, Paging(RELEASES_SHOWN, 0))[1].items
            return {
                "catalog": ref.catalog,
                "release": ref.release,
                "base": changes.base,
                "counts": pages.counts,
                "groups": {
                    kind: [ShownChange(c, names.get(c.key), fields.get(c.key, [])) for c in pages.groups[kind]]
                    for kind in KINDS
                },
                "more": pages.more,
                "kept": kept,
            }

    result, errors, status = attempt(work)
    if result is None:
        if status == 404:
            return not_found(request, user, errors)
        with reading(request) as session:
            ref = ReleaseService(session, user.principal).resolve(catalog_id, release_id)
            kept = ReleaseService(session, user.principal).list_releases(catalog_id, Paging(RELEASES_SHOWN, 0))[1].items
        result = {
            "catalog": ref.catalog,
            "release": ref.release,
            "base": None,
            "counts": None,
            "groups": {},
            "more": False,
            "kept": kept,
        }
    base_url = f"/admin/catalogs/{result['catalog'].id}/releases/{result['release'].id}/compare"
    return render(
        request,
        "catalogs/compare.html",
        user=user,
        label=release_label,
        status_code=shown(status),
        title=f"Compare releases of {result['catalog'].name}",
        errors=errors,
        since=since,
        page=page,
        kinds=KINDS,
        previous_url=url_with(base_url, since=since, page=page - 1) if page > 1 else None,
        next_url=url_with(base_url, since=since, page=page + 1) if result["more"] and page < MAX_PAGE else None,
        **result,
    )
