#!/usr/bin/env bash
# Repeats what Dockerfile.<image> does, without Docker, into OUT (the image's filesystem, in part):
#   build stage    `tsc -b <workspace>` in this checkout (the checkout's own `npm ci` stands in
#                  for the stage's), dist made executable where the Dockerfile does it;
#   deps stage     the manifests the Dockerfile copies, then the stage's own production
#                  `RUN npm ci --omit=dev ...` line, read from the Dockerfile and run verbatim;
#   runtime stage  dist copied next to the production node_modules, the entrypoint linked
#                  into OUT/usr/local/bin as the Dockerfile links it.
# Usage: test/images/mirror.sh sidecar|operator OUT     (run through npm, for the pinned Node 24)
set -euo pipefail
image=${1:?usage: mirror.sh sidecar|operator OUT}
out=${2:?usage: mirror.sh sidecar|operator OUT}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dockerfile="$repo/Dockerfile.$image"
case "$image" in
  sidecar) workspaces=(sidecar); bin=airlock-sidecar; entry=sidecar/dist/cli.js ;;
  operator) workspaces=(sidecar operator); bin=airlock-operator; entry=operator/dist/main.js ;;
  *) echo "mirror.sh: unknown image $image (sidecar or operator)" >&2; exit 2 ;;
esac

install=$(sed -n 's/^RUN \(npm ci --omit=dev .*\)$/\1/p' "$dockerfile")
if [ -z "$install" ] || [ "$(printf '%s\n' "$install" | wc -l)" -ne 1 ]; then
  echo "mirror.sh: expected exactly one 'RUN npm ci --omit=dev ...' line in $dockerfile" >&2
  exit 1
fi
link=$(sed -n 's/^RUN ln -s \/app\/\(.*\) \/usr\/local\/bin\/\(.*\)$/\1 \2/p' "$dockerfile")
if [ "$link" != "$entry $bin" ]; then
  echo "mirror.sh: $dockerfile should link /app/$entry to /usr/local/bin/$bin (found: '$link')" >&2
  exit 1
fi

echo "== build stage: tsc -b ${workspaces[-1]}" >&2
(cd "$repo" && node node_modules/typescript/bin/tsc -b "${workspaces[-1]}")

echo "== deps stage: $install" >&2
app="$out/app"
mkdir -p "$app/sidecar" "$app/operator" "$out/usr/local/bin"
cp "$repo/package.json" "$repo/package-lock.json" "$repo/.npmrc" "$app/"
cp "$repo/sidecar/package.json" "$app/sidecar/"
cp "$repo/operator/package.json" "$app/operator/"
# Served from npm's cache when it can be; the command itself is the Dockerfile's.
(cd "$app" && export npm_config_prefer_offline=true && eval "$install") >&2

echo "== runtime stage: dist and the $bin entrypoint" >&2
for workspace in "${workspaces[@]}"; do
  cp -R "$repo/$workspace/dist" "$app/$workspace/dist"
done
chmod 0755 "$app/$entry"
ln -s "$app/$entry" "$out/usr/local/bin/$bin"
echo "$out"
