# Pinned versions of the test control plane. Changing them: edit, then run pin.sh.
KUBE_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
