#!/usr/bin/env bash
# Installs the Debian packages the kernel-level tests need (test/integration/firewall):
#   iptables  - iptables-restore / ip6tables-restore (nft and legacy backends)
#   iproute2  - `ip netns` and veth pairs
#   util-linux - setpriv, to run a probe as a given UID; unshare and nsenter (the e2e's kubelet stand-in)
#   mount      - bind mounts of pod volumes (e2e)
#   curl       - the agent commands the e2e and the kind script share
#   containerd, runc, containernetworking-plugins - the real node's container runtime and pod
#                network (test/node: a kubelet runs the e2e's pods on them)
#   buildah, mmdebstrap - the e2e's images, built from the Dockerfiles without a Docker daemon
#                on a base assembled from Debian's archive (test/images/build.ts)
#   python3, python3-venv - the venv of the official Python SDKs that test/integration/python
#                drives the socket with (test/python/venv.ts builds it from PyPI)
# Idempotent and silent when everything is already there; `apt-get update` runs only when
# something must be installed, so a warm machine makes no network call.
set -euo pipefail

# package:command, for each command the tests run (both iptables flavours, both families);
# a command starting with / is a file that must exist (the CNI plugins are not on PATH).
wanted=(
  iptables:iptables-nft-restore iptables:iptables-legacy-restore
  iptables:ip6tables-nft-restore iptables:ip6tables-legacy-restore
  iproute2:ip
  util-linux:setpriv util-linux:unshare util-linux:nsenter
  mount:mount
  curl:curl
  containerd:containerd containerd:ctr runc:runc
  containernetworking-plugins:/usr/lib/cni/bridge containernetworking-plugins:/usr/lib/cni/host-local
  buildah:buildah mmdebstrap:mmdebstrap
)

# Debian keeps these in /usr/sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
for pair in "${wanted[@]}"; do
  pkg="${pair%%:*}"
  want="${pair#*:}"
  if [[ "$want" == /* ]]; then [ -e "$want" ] && continue; elif command -v "$want" >/dev/null 2>&1; then continue; fi
  if [[ " ${missing[*]} " != *" $pkg "* ]]; then
    missing+=("$pkg")
  fi
done
# `python3 -m venv` needs ensurepip, which Debian ships apart from python3 in python3-venv.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian-packages.sh: missing ${missing[*]}; run this script as root (it uses apt-get)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-debian-packages.sh: missing ${missing[*]} and no apt-get here; install them with the system's package manager" >&2
  exit 1
fi

echo "install-debian-packages.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt and debconf chatter goes to a log that is shown only when something fails.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-debian-packages.sh: apt-get failed installing ${missing[*]}" >&2
  exit 1
fi
