# Runs in the agent container (kubectl exec -i agent -- sh -s < mcp-session.sh): an MCP session
# over the socket with nothing but curl, the way any agent's MCP client talks Streamable HTTP.
# Prints the tools/list and tools/call responses.
set -eu
socket=${AIRLOCK_SOCKET:-/var/run/airlock/airlock.sock}
mcp() {
  curl -sS --fail-with-body --unix-socket "$socket" http://airlock/mcp \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' "$@"
}
headers=$(mktemp)
mcp -D "$headers" -o /dev/null \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"kind-e2e","version":"1.0.0"}}}'
session=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([^[:space:]]*\).*$/\1/p' "$headers")
[ -n "$session" ] || { echo "no Mcp-Session-Id in the initialize response" >&2; cat "$headers" >&2; exit 1; }
mcp -H "mcp-session-id: $session" -o /dev/null -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
echo "== tools/list"
mcp -H "mcp-session-id: $session" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
echo
echo "== tools/call"
mcp -H "mcp-session-id: $session" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"everything__get-sum","arguments":{"a":19,"b":23}}}'
echo
