"""The MCP Python SDK client on the sidecar's /mcp through the socket: tools, prompts, resources of
the real MCP servers behind the gateway, and the errors the gateway answers with."""

from mcp.shared.exceptions import MCPError

from airlock_clients import mcp_client
from registry import case


def _content(result):
    return [c.model_dump(mode="json", exclude_none=True) for c in result.content]


@case
async def list_tools():
    async with mcp_client() as mcp:
        return sorted(t.name for t in (await mcp.list_tools()).tools)


@case
async def call_tool(name, arguments):
    # An error that escapes `async with` comes out wrapped in the SDK's task groups'
    # ExceptionGroups; caught inside, as an agent would, it is the MCPError itself.
    failure = None
    async with mcp_client() as mcp:
        try:
            result = await mcp.call_tool(name, arguments)
            return {"is_error": bool(result.is_error), "content": _content(result), "structured": result.structured_content}
        except MCPError as error:
            failure = error
    raise failure


@case
async def prompts(name, arguments):
    async with mcp_client() as mcp:
        listed = sorted(p.name for p in (await mcp.list_prompts()).prompts)
        got = await mcp.get_prompt(name, arguments)
        return {"listed": listed, "messages": [m.model_dump(mode="json", exclude_none=True) for m in got.messages]}


@case
async def resources():
    async with mcp_client() as mcp:
        listed = (await mcp.list_resources()).resources
        first = listed[0]
        read = await mcp.read_resource(first.uri)
        return {"uris": [str(r.uri) for r in listed], "first": str(first.uri), "contents": [c.model_dump(mode="json", exclude_none=True) for c in read.contents]}


@case
async def server_info():
    async with mcp_client() as mcp:
        info = mcp.server_info
        return {"protocol": mcp.protocol_version, "name": info.name if info else None, "tools": mcp.server_capabilities.tools is not None}
