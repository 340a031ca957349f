#!/usr/bin/env bash
# `npm test`: every test tier, from a fresh clone after `npm ci`. npm puts node_modules/.bin
# first on PATH, so `node` here is the pinned Node 24 even where the machine has an older one.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "node $(node --version), npm $(npm --version 2>/dev/null)"
case "$(node --version)" in
  v24.*) ;;
  *) echo "test/run.sh: expected the pinned Node 24 from node_modules/.bin; run through 'npm test' after 'npm ci'" >&2; exit 1 ;;
esac

echo "== system packages the tests need (iptables, iproute2, setpriv, containerd, runc, CNI plugins, buildah, mmdebstrap)"
bash test/setup/install-debian-packages.sh

echo "== typecheck"
tsc -p tsconfig.json --noEmit
echo "== lint"
eslint . --max-warnings=0
echo "== tests: unit, integration, firewall, kube (a real kube-apiserver + etcd), e2e (a real node; its first run builds the Kubernetes binaries and images)"
vitest run "$@"
