#!/usr/bin/env bash
# Refresh the workbench's third-party browser code (run by `make vendor`; needs npm, nothing else).
# Pinned versions: change them here, run this, look at the diff, run `make test`, commit.
set -euo pipefail
HTMX_VERSION=2.0.11
SORTABLE_VERSION=1.15.7
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/src/assortment/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "htmx.org@$HTMX_VERSION" "sortablejs@$SORTABLE_VERSION" >/dev/null
mkdir htmx sortable
tar xzf "htmx.org-$HTMX_VERSION.tgz" -C htmx
tar xzf "sortablejs-$SORTABLE_VERSION.tgz" -C sortable
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
echo "vendored htmx $HTMX_VERSION and SortableJS $SORTABLE_VERSION into $dest"
