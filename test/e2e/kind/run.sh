#!/usr/bin/env bash
# The e2e scenario on a real cluster: kind, the images built from the Dockerfiles, the Helm chart,
# examples/quickstart, an in-cluster OpenAI-format mock, and an agent pod that talks to its socket
# with curl. Needs docker, kind, helm, kubectl and a prior `npm ci`. See README.md beside it.
#
#   test/e2e/kind/run.sh              build, create the cluster, test, delete the cluster
#   KEEP_CLUSTER=1 test/e2e/kind/run.sh    leave the cluster running afterwards
#
# Environment: CLUSTER (default airlock-e2e), TAG (default e2e), KIND_NODE_IMAGE (kind's default
# when unset), AGENT_IMAGE (default curlimages/curl:8.11.1), KEEP_CLUSTER.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
here="$repo/test/e2e/kind"
cluster=${CLUSTER:-airlock-e2e}
tag=${TAG:-e2e}
agent_image=${AGENT_IMAGE:-curlimages/curl:8.11.1}
operator_image="airlock-operator:$tag"
sidecar_image="airlock-sidecar:$tag"
examples_image="airlock-sidecar-examples:$tag"
mock_image="airlock-e2e-mock:$tag"
ns=airlock-e2e
system_ns=airlock-system
key=sk-kind-e2e-0000000000000001
socket=/var/run/airlock/airlock.sock
work=$(mktemp -d)

log() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }
k() { kubectl --context "kind-$cluster" "$@"; }
in_agent() { k -n "$ns" exec agent -c agent -- "$@"; }

for tool in docker kind helm kubectl npm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (this script needs docker, kind, helm, kubectl and npm)"
done

diagnose() {
  set +e
  log "diagnostics"
  k get pods -A -o wide
  k -n "$ns" describe pod agent
  k -n "$ns" get airlock -o yaml
  k -n "$ns" logs agent -c airlock-firewall
  k -n "$ns" logs agent -c airlock-sidecar --tail=100
  k -n "$system_ns" logs -l app.kubernetes.io/instance=airlock --all-containers --tail=100
  k -n "$ns" logs deploy/openai-mock --tail=50
}

finish() {
  local status=$?
  [ "$status" -ne 0 ] && diagnose
  rm -rf "$work"
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    echo "cluster kind-$cluster kept (kind delete cluster --name $cluster)"
  else
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
  [ "$status" -eq 0 ] && log "kind e2e passed"
  exit "$status"
}
trap finish EXIT

log "building the images"
cd "$repo"
docker build -f Dockerfile.operator -t "$operator_image" .
docker build -f Dockerfile.sidecar -t "$sidecar_image" .
# The quickstart's MCPBackend runs mcp-server-everything over stdio: the image with the example servers.
docker build -f Dockerfile.sidecar --target mcp-examples -t "$examples_image" .
npm exec --silent -- esbuild test/e2e/kind/mock-server.ts --bundle --platform=node --format=esm --target=node24 --outfile="$work/mock/mock.mjs" --log-level=warning
docker build -f "$here/mock.Dockerfile" -t "$mock_image" "$work/mock"
docker pull --quiet "$agent_image"

log "creating kind cluster $cluster"
if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
fi
for image in "$operator_image" "$sidecar_image" "$examples_image" "$mock_image" "$agent_image"; do
  kind load docker-image --name "$cluster" "$image"
done

log "helm install charts/airlock"
helm --kube-context "kind-$cluster" upgrade --install airlock "$repo/charts/airlock" \
  --namespace "$system_ns" --create-namespace --wait --timeout 5m \
  --set operator.image.repository=airlock-operator --set operator.image.tag="$tag" --set operator.image.pullPolicy=Never \
  --set sidecar.image.repository=airlock-sidecar-examples --set sidecar.image.tag="$tag"
k -n "$system_ns" get pods

log "the OpenAI-format mock, in the cluster"
k create namespace "$ns" --dry-run=client -o yaml | k apply -f -
sed -e "s|__MOCK_IMAGE__|$mock_image|" -e "s|__MOCK_KEYS__|$key|" "$here/mock.yaml" | k -n "$ns" apply -f -
k -n "$ns" rollout status deploy/openai-mock --timeout=120s
mock_url="http://openai-mock.$ns.svc:8080/v1"

log "the key Secret, then kubectl apply -f examples/quickstart/ (provider pointed at the mock)"
k -n "$ns" create secret generic openai-key --from-literal=api-key="$key" --dry-run=client -o yaml | k label --local -f - airlock.dev/credential=true -o yaml | k -n "$ns" apply -f -
k -n "$ns" apply -f "$repo/examples/quickstart/"
k -n "$ns" patch modelprovider openai --type merge -p "{\"spec\":{\"baseURL\":\"$mock_url\"}}"
k -n "$ns" wait --for=condition=Ready agentsandbox/quickstart --timeout=120s
k -n "$ns" get airlock

log "waiting for the webhook to inject (its caBundle is patched in by the operator)"
for attempt in $(seq 1 60); do
  injected=$(k -n "$ns" create --dry-run=server -f "$repo/examples/quickstart/agent/agent.yaml" \
    -o jsonpath='{.metadata.annotations.airlock\.dev/injected}' 2>/dev/null || true)
  [ -n "$injected" ] && break
  [ "$attempt" -eq 60 ] && fail "the webhook never injected a dry-run pod"
  sleep 2
done
echo "injection record: $injected"

log "the agent pod"
k -n "$ns" apply -f "$repo/examples/quickstart/agent/"
k -n "$ns" wait --for=condition=Ready pod/agent --timeout=180s
init=$(k -n "$ns" get pod agent -o jsonpath='{.spec.initContainers[*].name}')
[ "$init" = "airlock-firewall airlock-tools airlock-sidecar" ] || fail "init containers are '$init', expected the firewall, airlock-tools and the sidecar"

log "models and a chat through the socket"
models=$(in_agent curl -sS --fail-with-body --unix-socket "$socket" http://airlock/v1/models)
echo "$models"
for model in gpt-4o-mini gpt-4o fast; do
  grep -q "\"$model\"" <<<"$models" || fail "model $model is not listed"
done
chat() { # model, text -> prints "<http status> <body>"
  in_agent curl -sS --unix-socket "$socket" -w '\n%{http_code}' http://airlock/v1/chat/completions \
    -H 'content-type: application/json' \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}
reply=$(chat fast "hello from kind")
echo "$reply"
[ "$(tail -n1 <<<"$reply")" = 200 ] || fail "the chat did not answer 200"
grep -q 'echo: hello from kind' <<<"$reply" || fail "the chat did not reach the mock"

log "an MCP session through the socket: tools/list and tools/call"
session=$(k -n "$ns" exec -i agent -c agent -- sh -s <"$here/mcp-session.sh")
echo "$session"
grep -q 'everything__echo' <<<"$session" || fail "tools/list does not show everything__echo"
grep -q 'The sum of 19 and 23 is 42' <<<"$session" || fail "tools/call everything__get-sum did not answer"

log "the agent's own way out is closed: no direct connection to the mock"
mock_ip=$(k -n "$ns" get service openai-mock -o jsonpath='{.spec.clusterIP}')
if in_agent curl -sS --max-time 5 -o /dev/null "http://$mock_ip:8080/v1/models"; then
  fail "the agent container reached $mock_ip:8080 directly; the firewall should drop it"
fi
echo "refused, as it should be"

log "a change to the sandbox reaches the running sidecar (ConfigMap volume update, no restart)"
restarts=$(k -n "$ns" get pod agent -o jsonpath='{.status.initContainerStatuses[?(@.name=="airlock-sidecar")].restartCount}')
k -n "$ns" patch agentsandbox quickstart --type json -p '[{"op":"replace","path":"/spec/models","value":{"allow":["gpt-4o-mini"]}}]'
# The kubelet refreshes ConfigMap volumes on its sync period (about a minute, plus its cache TTL).
for attempt in $(seq 1 60); do
  status=$(chat fast "still there?" | tail -n1)
  [ "$status" = 404 ] && break
  [ "$attempt" -eq 60 ] && fail "the alias 'fast' still answers $status after 5 minutes"
  sleep 5
done
echo "alias 'fast' now answers 404"
[ "$(chat gpt-4o-mini "allowed" | tail -n1)" = 200 ] || fail "gpt-4o-mini stopped answering"
after=$(k -n "$ns" get pod agent -o jsonpath='{.status.initContainerStatuses[?(@.name=="airlock-sidecar")].restartCount}')
[ "$after" = "$restarts" ] || fail "the sidecar restarted ($restarts -> $after); it should reload in place"
