"""Fixed statements of the storefront's fast read path (api/fast_reads.py), run on its own connection.

Each `IN` over the caller's scopes takes two parameters: a caller sees one scope or two (its store and the
organization's), and a scope repeated changes nothing.
"""

from __future__ import annotations

from assortment.db.repositories.common import DriverSQL

# The shopper's catalog (SPEC §5), in one statement (one round trip on PostgreSQL): the rules as
# `CatalogRuleService.shopper_catalog` reads them, in creation order, each with the (id, release_version) of
# the catalog it names; then, rule columns NULL, the oldest catalog with a published release, the one shown
# when no rule matches.
SHOPPER_CATALOGS = DriverSQL(
    "SELECT * FROM ("
    "SELECT 0 AS part, r.created_at AS created, r.pk AS rule_pk, r.catalog_pk, r.channels, r.tags,"
    " r.customer_ids, r.account_ids, r.account_tag_ids, r.schedules, c.id, c.release_version"
    " FROM catalog_rule r JOIN catalog c ON c.pk = r.catalog_pk WHERE r.scope_id IN (%s, %s)"
    " UNION ALL"
    " SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, o.id, o.release_version FROM ("
    "SELECT id, release_version FROM catalog WHERE scope_id IN (%s, %s)"
    " AND pk IN (SELECT catalog_pk FROM catalog_release WHERE status = 'PUBLISHED')"
    " ORDER BY created_at, pk LIMIT 1) o"
    ") AS found ORDER BY part, created, rule_pk"
)
