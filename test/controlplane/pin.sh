#!/usr/bin/env bash
# Regenerates the scratch Go modules that build etcd and the Kubernetes binaries (kube-apiserver,
# kubectl, kube-controller-manager, kube-scheduler, kubelet) at pinned versions.
# Run by hand when changing versions.sh; commit the resulting go.mod and go.sum files.
# k8s.io/kubernetes requires its staging modules at v0.0.0 with replace directives into
# ./staging, so `go install` fails (kubernetes issue 79384). The scratch module replaces each
# staging module with its published v0.Y.Z instead, read from the pinned go.mod's replace block.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

staging_version="v0.${KUBE_VERSION#v1.}"
mod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
  echo "module airlock.dev/test/controlplane/kube-apiserver"
  echo
  echo "go $(sed -n 's/^go \(.*\)/\1/p' "$mod")"
  echo
  echo "require k8s.io/kubernetes ${KUBE_VERSION}"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$mod" | grep '=> ./staging' | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > "$here/kube-apiserver/go.mod"
(cd "$here/kube-apiserver" && rm -f go.sum && go get $(for cmd in kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet; do echo "k8s.io/kubernetes/cmd/$cmd@${KUBE_VERSION}"; done))

cat > "$here/etcd/go.mod" <<MOD
module airlock.dev/test/controlplane/etcd

go 1.24

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
MOD
(cd "$here/etcd" && rm -f go.sum && go mod tidy)
