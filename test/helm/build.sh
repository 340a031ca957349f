#!/usr/bin/env bash
# Builds helm at a pinned version from the Go module proxy into a cache outside the repo, once,
# and prints the binary's path. A second run finds it and returns at once.
#
# Unlike kube-apiserver (see test/controlplane/), helm's main module has no replace directives,
# so `go install helm.sh/helm/v4/cmd/helm@VERSION` builds it reproducibly from helm's own go.sum
# (checked against the Go checksum database); no scratch module is needed.
set -euo pipefail

# Pinned: the chart's tests pass with this version. helm v4 renders and lints charts of
# apiVersion v2 exactly as v3 does, and v4 is the maintained line.
HELM_VERSION=v4.3.1

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}/helm/$HELM_VERSION
bin=$cache/helm
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

if ! command -v go >/dev/null; then
  echo "test/helm/build.sh: the chart tests need helm $HELM_VERSION, built once from the Go module proxy;" \
    "install Go 1.26 or newer (https://go.dev/doc/install) and rerun, or put a helm $HELM_VERSION binary at $bin" >&2
  exit 1
fi

mkdir -p "$cache"
# Test files run in parallel and each may ask for helm: one builds, the others wait for it.
# (flock is util-linux; without it, parallel first builds race but each still ends in a complete binary.)
if command -v flock >/dev/null; then
  exec 9>"$cache/.lock"
  flock 9
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

start=$SECONDS
echo "building helm $HELM_VERSION into $cache (first time only; 2-5 minutes on 2 cores)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Outside any module or workspace, so the repository's or the user's go.work cannot interfere.
(cd "$work" && GOWORK=off GOBIN="$work" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
# mv within one filesystem is atomic: nobody ever runs a half-written binary.
mv "$work/helm" "$cache/helm.tmp.$$" && mv "$cache/helm.tmp.$$" "$bin"
echo "built helm $HELM_VERSION in $((SECONDS - start))s" >&2
echo "$bin"
