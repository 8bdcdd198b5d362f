#!/usr/bin/env bash
# Refresh the third-party browser code the server ships (run by `make vendor`; needs npm, nothing else):
# htmx and SortableJS for the workbench, Swagger UI for the API reference at /docs.
# Pinned versions: change them here, run this, look at the diff, run `make test`, commit.
set -euo pipefail
HTMX_VERSION=2.0.11
SORTABLE_VERSION=1.15.7
SWAGGER_UI_VERSION=5.36.0
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/src/assortment/web/static/vendor"
docs_dest="$here/src/assortment/api/static/swagger"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "htmx.org@$HTMX_VERSION" "sortablejs@$SORTABLE_VERSION" "swagger-ui-dist@$SWAGGER_UI_VERSION" >/dev/null
mkdir htmx sortable swagger
tar xzf "htmx.org-$HTMX_VERSION.tgz" -C htmx
tar xzf "sortablejs-$SORTABLE_VERSION.tgz" -C sortable
tar xzf "swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C swagger
mkdir -p "$dest"
cp htmx/package/dist/htmx.min.js "$dest/htmx.min.js"
cp htmx/package/LICENSE "$dest/htmx.LICENSE"
cp sortable/package/Sortable.min.js "$dest/Sortable.min.js"
cp sortable/package/LICENSE "$dest/Sortable.LICENSE"
cat > "$dest/VERSIONS" <<VERSIONS
htmx.org $HTMX_VERSION (BSD Zero Clause License, htmx.LICENSE)
sortablejs $SORTABLE_VERSION (MIT License, Sortable.LICENSE)
refreshed by scripts/vendor_web_assets.sh (make vendor)
VERSIONS
mkdir -p "$docs_dest"
for file in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "swagger/package/$file" "$docs_dest/$file"
done
echo "swagger-ui-dist $SWAGGER_UI_VERSION (Apache License 2.0, LICENSE and NOTICE)" > "$docs_dest/VERSION"
echo "vendored Swagger UI $SWAGGER_UI_VERSION into $docs_dest"
echo "vendored htmx $HTMX_VERSION and SortableJS $SORTABLE_VERSION into $dest"
