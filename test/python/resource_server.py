"""A resource server on the official Python MCP SDK (PyPI `mcp`), stdio: templates whose values
the SDK percent-decodes, and one with a query parameter it ignores when absent. What each read
returns says which resource the server took the URI for."""
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("resources")


@mcp.resource("notes://docs/{name}")
def note(name: str) -> str:
    return "SECRET NOTE" if name in ("secret", "caf\u00e9") else f"note {name}"


@mcp.resource("logs://{service}{?level}")
def logs(service: str, level: str = "info") -> str:
    return "SECRET LOGS" if service == "billing" else f"logs of {service} at {level}"


if __name__ == "__main__":
    mcp.run()
