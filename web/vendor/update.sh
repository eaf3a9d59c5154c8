#!/usr/bin/env bash
# Refreshes the vendored hls.js from the npm registry (the UI loads nothing from a CDN).
# The light build: HLS playback with MSE, without subtitles, alternate audio or DRM.
set -euo pipefail
VERSION=1.7.4
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "hls.js@$VERSION" --silent >/dev/null && tar xzf "hls.js-$VERSION.tgz")
# Drop the source-map comment: the map is not shipped.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/dist/hls.light.min.js" >hls.light.min.js
cp "$tmp/package/LICENSE" hls.js.LICENSE
echo "hls.js $VERSION: $(sha256sum hls.light.min.js | cut -d' ' -f1)"
