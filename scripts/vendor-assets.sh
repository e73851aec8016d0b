#!/usr/bin/env bash
# Re-fetch the front-end files vendored into the repository, from the npm registry at their
# pinned versions, and check them against the hashes recorded here. Run by hand when a
# version changes (the deployment network is closed: nothing is fetched at run time).
#
#   scripts/vendor-assets.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HTMX=2.0.11      # htmx.org, 0BSD: the portal's partial page updates
AXE=4.10.3       # axe-core, MPL-2.0: accessibility checks in the browser tests only
ECHARTS=6.1.0    # echarts, Apache-2.0: the dashboards' charts (the "simple" build: line, bar, pie)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "htmx.org@$HTMX" "axe-core@$AXE" "echarts@$ECHARTS" --silent >/dev/null)
tar xzf "$work/htmx.org-$HTMX.tgz" -C "$work" package/dist/htmx.min.js package/LICENSE
cp "$work/package/dist/htmx.min.js" "src/govchain/portal/static/vendor/htmx-$HTMX.min.js"
cp "$work/package/LICENSE" src/govchain/portal/static/vendor/htmx-LICENSE.txt
rm -rf "$work/package"
tar xzf "$work/axe-core-$AXE.tgz" -C "$work" package/axe.min.js package/LICENSE
cp "$work/package/axe.min.js" "tests/portal/vendor/axe-$AXE.min.js"
cp "$work/package/LICENSE" tests/portal/vendor/axe-LICENSE.txt
rm -rf "$work/package"
tar xzf "$work/echarts-$ECHARTS.tgz" -C "$work" package/dist/echarts.simple.min.js package/LICENSE package/NOTICE
cp "$work/package/dist/echarts.simple.min.js" "src/govchain/portal/static/vendor/echarts-$ECHARTS.simple.min.js"
cp "$work/package/LICENSE" src/govchain/portal/static/vendor/echarts-LICENSE.txt
cp "$work/package/NOTICE" src/govchain/portal/static/vendor/echarts-NOTICE.txt
sha256sum -c <<SUMS
d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717  src/govchain/portal/static/vendor/htmx-2.0.11.min.js
880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb  tests/portal/vendor/axe-4.10.3.min.js
5eef51bee09fb9cc234c4179a58ae0150126f49f88c992efe2d6bca81d8dd03b  src/govchain/portal/static/vendor/echarts-6.1.0.simple.min.js
SUMS
