"""Fixed statements of the storefront's fast read path (api/fast_reads.py), run on its own connection.

Each `IN` over the caller's scopes takes two parameters: a caller sees one scope or two (its store and the
organization's), and a scope repeated changes nothing.
"""

from __future__ import annotations

from assortment.db.repositories.common import DriverSQL

# The shopper's catalog (SPEC §5): the rules, as `CatalogRuleService.shopper_catalog` reads them…
SHOPPER_RULES = DriverSQL(
    "SELECT pk, catalog_pk, channels, tags, customer_ids, account_ids, account_tag_ids, schedules"
    " FROM catalog_rule WHERE scope_id IN (%s, %s) ORDER BY created_at, pk"
)
# …the catalog a rule names…
CATALOG_BY_PK = DriverSQL("SELECT id, release_version FROM catalog WHERE pk = %s")
# …or, when none matches, the oldest catalog with a published release.
OLDEST_PUBLISHED_CATALOG = DriverSQL(
    "SELECT id, release_version FROM catalog WHERE scope_id IN (%s, %s)"
    " AND pk IN (SELECT catalog_pk FROM catalog_release WHERE status = 'PUBLISHED')"
    " ORDER BY created_at, pk LIMIT 1"
)
