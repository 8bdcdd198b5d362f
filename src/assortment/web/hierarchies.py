"""Workbench hierarchies and nodes (the tree, moves, node products).

Every write is a plain form post (the tree's dialogs and its drag and drop fill and submit one), answered
with a redirect to the tree as it was open, or — when the API's rules refuse it — with the page re-rendered
from the database (so unchanged) and the API's detail in an alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from assortment.db.models import Hierarchy, Node
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.jobs import JobService
from assortment.domain.paging import Paging
from assortment.domain.products import ProductService, parse_id
from assortment.domain.users import SignedIn
from assortment.domain.workbench_tree import MAX_OPEN, MAX_PARENT_CHOICES, TreeService
from assortment.errors import ValidationFailed
from assortment.schemas.hierarchies import (
    MAX_CURATED,
    DuplicateRequest,
    HierarchyCreateRequest,
    HierarchyUpdateRequest,
    NodeCreateRequest,
    NodeUpdateRequest,
    ProductReferencesRequest,
)
from assortment.web import history
from assortment.web.core import (
    MAX_PAGE,
    PAGE_SIZE,
    EditorDep,
    FormDep,
    UserDep,
    WebRoute,
    attempt,
    form_text,
    not_found,
    number,
    page_number,
    reading,
    redirect,
    render,
    shown,
    submit,
    url_with,
    writing,
)

router = APIRouter(prefix="/admin/hierarchies", include_in_schema=False, route_class=WebRoute)

SEARCH_SIZE = 25
DONE = {
    "created": "Hierarchy created.",
    "duplicated": "Hierarchy duplicated.",
    "saved": "Hierarchy saved.",
    "added": "Node added.",
    "renamed": "Node renamed.",
    "moved": "Node moved.",
    "deleted": "Node deleted.",
    "linked": "Products added.",
    "unlinked": "Product removed.",
    "curated": "Curated products saved.",
}


def _ids(raw: str | None) -> list[str]:
    """A comma-separated list of node ids (the open nodes of a tree), canonical, deduplicated, capped."""
    found: dict[str, None] = {}
    for part in (raw or "").split(",")[: MAX_OPEN * 2]:
        parsed = parse_id(part.strip())
        if parsed is not None:
            found[str(parsed)] = None
    return list(found)[:MAX_OPEN]


def _notice(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


# --- hierarchies -----------------------------------------------------------------------------------------


@router.get("")
def hierarchy_list(request: Request, user: UserDep) -> Response:
    page = page_number(request.query_params.get("page"))
    with reading(request) as session:
        found = HierarchyService(session, user.principal).list_hierarchies(
            None, Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        )
    more = found.total > page * PAGE_SIZE
    return _list_page(request, user, found.items, found.total, page, more, [], 200)


def _list_page(
    request: Request,
    user: SignedIn,
    items: list[Hierarchy],
    total: int,
    page: int,
    more: bool,
    errors: list[str],
    status_code: int,
) -> Response:
    return render(
        request,
        "hierarchies/list.html",
        user=user,
        status_code=status_code,
        title="Hierarchies",
        hierarchies=items,
        total=total,
        page=page,
        errors=errors,
        notice=_notice(request),
        previous_url=url_with("/admin/hierarchies", page=page - 1) if page > 1 else None,
        next_url=url_with("/admin/hierarchies", page=page + 1) if more and page < MAX_PAGE else None,
    )


@router.get("/new")
def new_hierarchy(request: Request, user: UserDep) -> Response:
    return _hierarchy_form(request, user, {}, [], 200)


def _hierarchy_form(
    request: Request,
    user: SignedIn,
    values: dict[str, Any],
    errors: list[str],
    status_code: int,
    hierarchy_id: str | None = None,
) -> Response:
    return render(
        request,
        "hierarchies/form.html",
        user=user,
        status_code=status_code,
        title="Edit hierarchy" if hierarchy_id else "New hierarchy",
        hierarchy_id=hierarchy_id,
        values=values,
        errors=errors,
    )


def _hierarchy_attributes(form: FormData, *, creating: bool) -> dict[str, Any]:
    """A blank slug or description is left out on create and cleared on edit; the name is always sent, so
    a blank one gets the API's own message."""
    attributes: dict[str, Any] = {"name": form_text(form, "name")}
    for name, value in (("slug", form_text(form, "slug")), ("description", str(form.get("description") or "").strip())):
        if value:
            attributes[name] = value
        elif not creating:
            attributes[name] = None
    return attributes


@router.post("")
def create_hierarchy(request: Request, user: EditorDep, form: FormDep) -> Response:
    attributes = _hierarchy_attributes(form, creating=True)

    def work(session: Session) -> object:
        body = HierarchyCreateRequest.model_validate({"data": {"type": "hierarchy", "attributes": attributes}})
        return HierarchyService(session, user.principal).create_hierarchy(body.data.attributes).id

    return submit(
        request,
        user,
        work,
        lambda created: f"/admin/hierarchies/{created}?done=created",
        lambda errors, status: _hierarchy_form(request, user, attributes, errors, status),
    )


@router.get("/{hierarchy_id}/edit")
def edit_hierarchy(request: Request, hierarchy_id: str, user: UserDep) -> Response:
    with reading(request) as session:
        hierarchy = HierarchyService(session, user.principal).get_hierarchy(hierarchy_id)
    values = {"name": hierarchy.name, "slug": hierarchy.slug, "description": hierarchy.description}
    return _hierarchy_form(request, user, values, [], 200, str(hierarchy.id))


@router.post("/{hierarchy_id}")
def update_hierarchy(request: Request, hierarchy_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes = _hierarchy_attributes(form, creating=False)

    def work(session: Session) -> object:
        body = HierarchyUpdateRequest.model_validate(
            {"data": {"type": "hierarchy", "id": hierarchy_id, "attributes": attributes}}
        )
        service = HierarchyService(session, user.principal)
        return service.update_hierarchy(hierarchy_id, body.data.id, body.data.attributes).id

    return submit(
        request,
        user,
        work,
        lambda updated: f"/admin/hierarchies/{updated}?done=saved",
        lambda errors, status: _hierarchy_form(request, user, attributes, errors, status, hierarchy_id),
    )


@router.post("/{hierarchy_id}/duplicate")
def duplicate_hierarchy(request: Request, hierarchy_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes: dict[str, Any] = {"include_products": form.get("include_products") == "on"}
    name = form_text(form, "name")
    if name:
        attributes["name"] = name

    def work() -> str:
        body = DuplicateRequest.model_validate({"data": {"type": "hierarchy", "attributes": attributes}})
        with writing(request) as session:
            job = JobService(session, user.principal).duplicate_hierarchy(
                hierarchy_id, body.data.attributes, request.headers.get("x-request-id")
            )
            return str((job.meta or {})["hierarchy_id"])

    copy, errors, status = attempt(work)
    if copy is None:
        return _refused_on_list(request, user, errors, status)
    return redirect(f"/admin/hierarchies/{copy}?done=duplicated", request)


@router.post("/{hierarchy_id}/delete")
def delete_hierarchy(request: Request, hierarchy_id: str, user: EditorDep) -> Response:
    def work() -> bool:
        with writing(request) as session:
            HierarchyService(session, user.principal).delete_hierarchy(hierarchy_id)
        return True

    done, errors, status = attempt(work)
    if not done:
        return _refused_on_list(request, user, errors, status)
    return redirect("/admin/hierarchies", request)


def _refused_on_list(request: Request, user: SignedIn, errors: list[str], status: int) -> Response:
    with reading(request) as session:
        found = HierarchyService(session, user.principal).list_hierarchies(None, Paging(PAGE_SIZE, 0))
    more = found.total > PAGE_SIZE
    return _list_page(request, user, found.items, found.total, 1, more, errors, shown(status))


# --- the tree --------------------------------------------------------------------------------------------


@router.get("/{hierarchy_id}")
def hierarchy_page(request: Request, hierarchy_id: str, user: UserDep) -> Response:
    params = request.query_params
    return _tree_page(request, user, hierarchy_id, _ids(params.get("open")), params.get("focus"), [], 200)


def _tree_page(
    request: Request,
    user: SignedIn,
    hierarchy_id: str,
    open_ids: list[str],
    focus: str | None,
    errors: list[str],
    status_code: int,
) -> Response:
    with reading(request) as session:
        hierarchy = HierarchyService(session, user.principal).get_hierarchy(hierarchy_id)
        branch = TreeService(session, user.principal).branch(hierarchy_id, None, open_ids=open_ids)
    return render(
        request,
        "hierarchies/page.html",
        user=user,
        status_code=status_code,
        title=hierarchy.name,
        hierarchy=hierarchy,
        branch=branch,
        focus=focus if focus and parse_id(focus) else None,
        errors=errors,
        notice=None if errors else _notice(request),
        max_choices=MAX_PARENT_CHOICES,
    )


@router.get("/{hierarchy_id}/children")
def top_level_items(request: Request, hierarchy_id: str, user: UserDep) -> Response:
    return _branch_items(request, user, hierarchy_id, None)


@router.get("/{hierarchy_id}/nodes/{node_id}/children")
def child_items(request: Request, hierarchy_id: str, node_id: str, user: UserDep) -> Response:
    return _branch_items(request, user, hierarchy_id, node_id)


def _branch_items(request: Request, user: SignedIn, hierarchy_id: str, node_id: str | None) -> Response:
    """The <li> items of one page of a parent's children (lazy loading and "Show more")."""
    params = request.query_params
    level = number(params.get("level"), 1 if node_id is None else 2, 1, 100_000)
    offset = number(params.get("offset"), 0, 0, 10_000)
    with reading(request) as session:
        hierarchy = HierarchyService(session, user.principal).get_hierarchy(hierarchy_id)
        branch = TreeService(session, user.principal).branch(hierarchy_id, node_id, level=level, offset=offset)
    return render(request, "hierarchies/_items.html", user=user, hierarchy=hierarchy, branch=branch)


@router.get("/{hierarchy_id}/parent-options")
def parent_options(request: Request, hierarchy_id: str, user: UserDep) -> Response:
    """<option>s for the `New parent` and `Parent` selects, loaded when their dialog opens."""
    text = request.query_params.get("q", "").strip()[:200]
    with reading(request) as session:
        choices, truncated = TreeService(session, user.principal).parent_choices(hierarchy_id, text)
    return render(
        request,
        "hierarchies/_options.html",
        user=user,
        choices=choices,
        truncated=truncated,
        filtered=bool(text),
        selected=request.query_params.get("selected", ""),
    )


def _tree_state(form: FormData) -> tuple[list[str], str | None]:
    focus = form_text(form, "focus")
    return _ids(form_text(form, "open")), focus if parse_id(focus) else None


def _revealing(session: Session, user: SignedIn, node: Node) -> list[str]:
    """The ids of a node's ancestors: opened on the next page so the node is seen where it now is."""
    view = HierarchyService(session, user.principal).describe([node])[0]
    return [str(crumb.id) for crumb in view.crumbs[:-1]]


def _tree_change(
    request: Request,
    user: SignedIn,
    hierarchy_id: str,
    form: FormData,
    done: str,
    work: Callable[[], tuple[str | None, list[str]]],
) -> Response:
    """Run a change of the tree; then the tree as it was open (plus what reveals the changed node), or
    the refusal's detail over the unchanged tree."""
    open_ids, focus = _tree_state(form)
    result, errors, status = attempt(work)
    if result is None:
        if status == 404:
            return not_found(request, user, errors)
        return _tree_page(request, user, hierarchy_id, open_ids, focus, errors, shown(status))
    changed, revealed = result
    kept = list(dict.fromkeys([*open_ids, *revealed]))[:MAX_OPEN]
    url = url_with(f"/admin/hierarchies/{hierarchy_id}", open=",".join(kept), focus=changed or focus, done=done)
    return redirect(url, request)


@router.post("/{hierarchy_id}/nodes")
def add_node(request: Request, hierarchy_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes: dict[str, Any] = {"name": form_text(form, "name")}
    slug = form_text(form, "slug")
    if slug:
        attributes["slug"] = slug
    parent = form_text(form, "parent")
    data: dict[str, Any] = {"type": "node", "attributes": attributes}
    if parent:
        data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}

    def work() -> tuple[str | None, list[str]]:
        body = NodeCreateRequest.model_validate({"data": data})
        with writing(request) as session:
            node = HierarchyService(session, user.principal).create_node(
                hierarchy_id, body.data.attributes, parent or None, body.data.meta
            )
            return str(node.id), _revealing(session, user, node)

    return _tree_change(request, user, hierarchy_id, form, "added", work)


@router.post("/{hierarchy_id}/nodes/{node_id}/rename")
def rename_node(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    attributes = {"name": form_text(form, "name"), "slug": form_text(form, "slug") or None}

    def work() -> tuple[str | None, list[str]]:
        body = NodeUpdateRequest.model_validate({"data": {"type": "node", "id": node_id, "attributes": attributes}})
        with writing(request) as session:
            HierarchyService(session, user.principal).update_node(
                hierarchy_id, node_id, body.data.id, body.data.attributes, body.data.meta
            )
        return node_id, []

    return _tree_change(request, user, hierarchy_id, form, "renamed", work)


@router.post("/{hierarchy_id}/nodes/{node_id}/move")
def move_node(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    """The `Move` dialog: the API's set-parent (or clear-parent for the top level)."""
    return _place(request, hierarchy_id, node_id, user, form, form_text(form, "parent") or None, None, None)


@router.post("/{hierarchy_id}/nodes/{node_id}/place")
def place_node(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    """A drop: onto a node (`parent` only) or between siblings (`parent` and `before` or `after`)."""
    parent = form_text(form, "parent") or None
    return _place(
        request,
        hierarchy_id,
        node_id,
        user,
        form,
        parent,
        form_text(form, "before") or None,
        form_text(form, "after") or None,
    )


def _place(
    request: Request,
    hierarchy_id: str,
    node_id: str,
    user: SignedIn,
    form: FormData,
    parent: str | None,
    before: str | None,
    after: str | None,
) -> Response:
    def work() -> tuple[str | None, list[str]]:
        with writing(request) as session:
            TreeService(session, user.principal).place(hierarchy_id, node_id, parent, before_id=before, after_id=after)
            node = HierarchyService(session, user.principal).get_node(hierarchy_id, node_id)
            return node_id, _revealing(session, user, node)

    return _tree_change(request, user, hierarchy_id, form, "moved", work)


@router.post("/{hierarchy_id}/nodes/{node_id}/delete")
def delete_node(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    def work() -> tuple[str | None, list[str]]:
        with writing(request) as session:
            HierarchyService(session, user.principal).delete_node(hierarchy_id, node_id)
        return None, []

    return _tree_change(request, user, hierarchy_id, form, "deleted", work)


# --- a node and its products ----------------------------------------------------------------------------


def _node_url(hierarchy_id: str, node_id: str) -> str:
    return f"/admin/hierarchies/{hierarchy_id}/nodes/{node_id}"


@router.get("/{hierarchy_id}/nodes/{node_id}")
def node_page(request: Request, hierarchy_id: str, node_id: str, user: UserDep) -> Response:
    page = page_number(request.query_params.get("page"))
    return _node_page(request, user, hierarchy_id, node_id, page, [], 200)


def _node_page(
    request: Request,
    user: SignedIn,
    hierarchy_id: str,
    node_id: str,
    page: int,
    errors: list[str],
    status_code: int,
) -> Response:
    with reading(request) as session:
        service = HierarchyService(session, user.principal)
        node = service.get_node(hierarchy_id, node_id)
        view = service.describe([node])[0]
        products = service.node_products(hierarchy_id, node_id, Paging(PAGE_SIZE, (page - 1) * PAGE_SIZE))
        found: list[Any] = []
        if user.can_edit:
            found = list(ProductService(session, user.principal).browse("", SEARCH_SIZE, 0)[0])
        changes = history.recent(session, user, "node", str(node.id))
    base = _node_url(hierarchy_id, node_id)
    curated = list(node.curated_products or [])
    return render(
        request,
        "hierarchies/node.html",
        user=user,
        status_code=status_code,
        title=node.name,
        hierarchy=view.hierarchy,
        node=node,
        crumbs=view.crumbs[:-1],
        entries=products.items,
        total=products.total,
        curated=curated,
        max_curated=MAX_CURATED,
        history=changes,
        found=found,
        q="",
        page=page,
        errors=errors,
        notice=None if errors else _notice(request),
        tree_url=url_with(
            f"/admin/hierarchies/{hierarchy_id}", open=",".join(str(c.id) for c in view.crumbs[:-1]), focus=node_id
        ),
        previous_url=url_with(base, page=page - 1) if page > 1 else None,
        next_url=url_with(base, page=page + 1) if products.total > page * PAGE_SIZE and page < MAX_PAGE else None,
    )


@router.get("/{hierarchy_id}/nodes/{node_id}/product-search")
def product_search(request: Request, hierarchy_id: str, node_id: str, user: UserDep) -> Response:
    """The `Add products` dialog's results: one checkbox per found product."""
    text = request.query_params.get("q", "").strip()[:200]
    with reading(request) as session:
        HierarchyService(session, user.principal).get_node(hierarchy_id, node_id)
        found, _more = ProductService(session, user.principal).browse(text, SEARCH_SIZE, 0)
    return render(request, "hierarchies/_found.html", user=user, found=found, q=text)


def _node_change(
    request: Request,
    user: SignedIn,
    hierarchy_id: str,
    node_id: str,
    done: str,
    work: Callable[[], bool],
) -> Response:
    result, errors, status = attempt(work)
    if result is None:
        if status == 404:
            return not_found(request, user, errors)
        return _node_page(request, user, hierarchy_id, node_id, 1, errors, shown(status))
    return redirect(url_with(_node_url(hierarchy_id, node_id), done=done), request)


def _product_references(ids: Iterable[str]) -> ProductReferencesRequest:
    return ProductReferencesRequest.model_validate({"data": [{"type": "product", "id": pid} for pid in ids]})


@router.post("/{hierarchy_id}/nodes/{node_id}/products")
def add_products(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    chosen = [str(value) for value in form.getlist("product") if isinstance(value, str) and value]

    def work() -> bool:
        if not chosen:
            raise _nothing_chosen()
        body = _product_references(dict.fromkeys(chosen))
        with writing(request) as session:
            HierarchyService(session, user.principal).link_products(hierarchy_id, node_id, [p.id for p in body.data])
        return True

    return _node_change(request, user, hierarchy_id, node_id, "linked", work)


def _nothing_chosen() -> Exception:
    return ValidationFailed("choose at least one product to add")


@router.post("/{hierarchy_id}/nodes/{node_id}/products/remove")
def remove_product(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    product = form_text(form, "product")

    def work() -> bool:
        body = _product_references([product])
        with writing(request) as session:
            HierarchyService(session, user.principal).unlink_products(hierarchy_id, node_id, [p.id for p in body.data])
        return True

    return _node_change(request, user, hierarchy_id, node_id, "unlinked", work)


CURATION_STEPS = ("curate", "uncurate", "up", "down")


def curated_after(curated: list[str], product: str, step: str) -> list[str]:
    """The node's curated list after one step on one product (the API then judges it: ≤ 20, linked)."""
    if step == "curate":
        return curated if product in curated else [*curated, product]
    if step == "uncurate":
        return [c for c in curated if c != product]
    if product not in curated:
        return curated
    index = curated.index(product)
    other = index - 1 if step == "up" else index + 1
    if other < 0 or other >= len(curated):
        return curated
    changed = list(curated)
    changed[index], changed[other] = changed[other], changed[index]
    return changed


@router.post("/{hierarchy_id}/nodes/{node_id}/curated")
def curate(request: Request, hierarchy_id: str, node_id: str, user: EditorDep, form: FormDep) -> Response:
    """Mark, unmark and order curated products: the API's `curated_products` of the node, with its rules."""
    product = form_text(form, "product")
    step = form_text(form, "step")
    canonical = parse_id(product)

    def work() -> bool:
        if step not in CURATION_STEPS:
            raise ValidationFailed(f"step must be one of {', '.join(CURATION_STEPS)}")
        with writing(request) as session:
            service = HierarchyService(session, user.principal)
            node = service.get_node(hierarchy_id, node_id)
            current = list(node.curated_products or [])
            wanted = curated_after(current, str(canonical) if canonical else product, step)
            if wanted == current:
                return True
            body = NodeUpdateRequest.model_validate(
                {"data": {"type": "node", "id": node_id, "attributes": {"curated_products": wanted}}}
            )
            service.update_node(hierarchy_id, node_id, body.data.id, body.data.attributes, body.data.meta)
        return True

    return _node_change(request, user, hierarchy_id, node_id, "curated", work)
