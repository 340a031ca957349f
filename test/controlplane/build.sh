#!/usr/bin/env bash
# Builds kube-apiserver and etcd at the pinned versions into a cache outside the repo, once.
# Prints the directory that holds the binaries (etcd, kube-apiserver, kubectl). A second run finds them and returns at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

cache=${AIRLOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/airlock}/controlplane
out="$cache/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
mkdir -p "$out"

build() { # name, module dir, package, extra go build args...
  local name=$1 dir=$2 pkg=$3; shift 3
  [ -x "$out/$name" ] && return 0
  if ! command -v go >/dev/null; then
    echo "build.sh: the Go toolchain (1.26 or newer) builds the test control plane once; install it (https://go.dev/doc/install) and rerun" >&2
    exit 1
  fi
  local start=$SECONDS
  echo "building $name into $out (first time only; about 5 minutes for all three on 2 cores)" >&2
  (cd "$here/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath "$@" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
stamp="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
build etcd etcd .
build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver -ldflags "$stamp"
# kubectl at the same version as the API server, so tests never depend on a skewed client.
build kubectl kube-apiserver k8s.io/kubernetes/cmd/kubectl -ldflags "$stamp"
echo "$out"
