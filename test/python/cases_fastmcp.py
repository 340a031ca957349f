"""fastmcp's Client (a third-party MCP client on PyPI) on the sidecar's /mcp through the socket."""

from airlock_clients import fastmcp_client
from registry import case


@case
async def list_tools():
    async with fastmcp_client() as mcp:
        return sorted(t.name for t in await mcp.list_tools())


@case
async def call_tool(name, arguments):
    async with fastmcp_client() as mcp:
        result = await mcp.call_tool(name, arguments)
        return {"is_error": result.is_error, "text": [c.text for c in result.content if hasattr(c, "text")], "data": result.data}


@case
async def read_first_resource():
    async with fastmcp_client() as mcp:
        listed = await mcp.list_resources()
        read = await mcp.read_resource(listed[0].uri)
        return {"uri": str(listed[0].uri), "read": [str(c.uri) for c in read]}
