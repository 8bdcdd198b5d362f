"""PIM jobs. The only kind today is hierarchy duplication, which runs inside the request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assortment.db.models import Hierarchy, Job, Node
from assortment.db.repositories import tree_copy
from assortment.db.repositories.common import keyset_page
from assortment.db.types import utcnow
from assortment.domain import events
from assortment.domain.hierarchies import HierarchyService
from assortment.domain.paging import Page, Paging
from assortment.domain.products import parse_id
from assortment.domain.tenancy import Principal
from assortment.errors import NotFound
from assortment.schemas.hierarchies import DuplicateAttributes

HIERARCHY_DUPLICATE = "hierarchy-duplicate"


@dataclass
class JobService:
    session: Session
    principal: Principal

    def duplicate_hierarchy(
        self, hierarchy_id: str, attributes: DuplicateAttributes, request_id: str | None
    ) -> Job:
        """Copy a hierarchy with all its nodes (same slugs, locales, sort orders) into a new one;
        product links (and so curated products) only when `include_products` is set."""
        source = HierarchyService(self.session, self.principal).get_hierarchy(hierarchy_id)
        started = utcnow()
        copy = Hierarchy(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            name=attributes.name if attributes.name is not None else source.name,
            description=attributes.description
            if "description" in attributes.model_fields_set
            else source.description,
            slug=source.slug,
            locales=source.locales,
            admin_attributes=source.admin_attributes,
            shopper_attributes=source.shopper_attributes,
            created_at=started,
            updated_at=started,
        )
        self.session.add(copy)
        self.session.flush()
        copied = tree_copy.copy_tree(
            self.session, source, copy, include_products=attributes.include_products, now=started
        )
        scope = copy.scope_id
        events.record(self.session, self.principal, "hierarchy.created", copy, copy.id, scope)
        for node in self.session.scalars(select(Node).where(Node.hierarchy_pk == copy.pk).order_by(Node.pk)):
            events.record(self.session, self.principal, "node.created", node, node.id, scope)
        finished = utcnow()
        job = Job(
            id=uuid.uuid4(),
            scope_id=self.principal.scope_id,
            type=HIERARCHY_DUPLICATE,
            status="success",
            meta={
                "copied_from": str(source.id),
                "hierarchy_id": str(copy.id),
                "nodes_copied": copied,
                "include_products": attributes.include_products,
            },
            request_id=request_id,
            created_at=started,
            updated_at=finished,
            started_at=started,
            completed_at=finished,
        )
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: str) -> Job:
        parsed = parse_id(job_id)
        job = None
        if parsed is not None:
            job = self.session.scalars(
                select(Job).where(Job.id == parsed, Job.scope_id.in_(self.principal.visible_scopes))
            ).first()
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def list(self, paging: Paging) -> Page[Job]:
        query = select(Job).where(Job.scope_id.in_(self.principal.visible_scopes))
        return keyset_page(self.session, query, (Job.created_at, Job.id), paging)
