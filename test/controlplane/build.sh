#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries into a cache outside the repo, once each.
#   build.sh                 etcd, kube-apiserver, kubectl (the test control plane)
#   build.sh NAME...         the named ones; NAME is one of etcd kube-apiserver kubectl
#                            kube-controller-manager kube-scheduler kubelet
#   build.sh node            all six (a single-node cluster: test/node)
# Prints the directory that holds the binaries. A second run finds them and returns at once.
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
    echo "build.sh: the Go toolchain (1.26 or newer) builds the test Kubernetes binaries once; install it (https://go.dev/doc/install) and rerun" >&2
    exit 1
  fi
  local start=$SECONDS
  echo "building $name into $out (first time only; about 2 minutes each on 2 cores, less once Go's build cache holds the shared packages)" >&2
  # A per-process temp name: two runs building the same binary at once never write one file.
  (cd "$here/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath "$@" -o "$out/$name.tmp.$$" "$pkg")
  mv "$out/$name.tmp.$$" "$out/$name"
  echo "built $name in $((SECONDS - start))s" >&2
}

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
stamp="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(etcd kube-apiserver kubectl)
[ "${names[*]}" = node ] && names=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet)
for name in "${names[@]}"; do
  case "$name" in
    etcd) build etcd etcd . ;;
    # kubectl at the same version as the API server, so tests never depend on a skewed client.
    kube-apiserver | kubectl | kube-controller-manager | kube-scheduler | kubelet)
      build "$name" kube-apiserver "k8s.io/kubernetes/cmd/$name" -ldflags "$stamp" ;;
    *) echo "build.sh: unknown binary '$name' (etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet, or node)" >&2; exit 2 ;;
  esac
done
echo "$out"
