"""The official Python clients pointed at the Airlock socket, exactly as docs/agents.md ("From Python")
shows them: every Python integration test builds its clients here, so the documented setup is the one
that is tested. The SDKs (openai 3, anthropic 2, google-genai 3, mcp 2) are built on httpx2, whose
HTTPTransport(uds=...) connects to the Unix socket; the host in the URL is ignored."""

import os

import httpx2

def socket_client() -> httpx2.Client:
    """A synchronous httpx2 client whose every request goes through the socket."""
    return httpx2.Client(transport=httpx2.HTTPTransport(uds=os.environ["AIRLOCK_SOCKET"]), timeout=60)


def socket_async_client() -> httpx2.AsyncClient:
    """The asyncio flavour, for AsyncOpenAI, the Agents SDK and the MCP client."""
    return httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(uds=os.environ["AIRLOCK_SOCKET"]), timeout=60)


def socket_client_factory(headers=None, timeout=None, auth=None, **options) -> httpx2.AsyncClient:
    """For SDKs that make their own MCP HTTP clients: the Agents SDK's MCPServerStreamableHttp,
    fastmcp's StreamableHttpTransport (which also passes follow_redirects)."""
    transport = httpx2.AsyncHTTPTransport(uds=os.environ["AIRLOCK_SOCKET"])
    return httpx2.AsyncClient(transport=transport, headers=headers, timeout=timeout or 60, auth=auth, **options)


def openai_client(**options):
    from openai import OpenAI

    return OpenAI(api_key="unused", base_url="http://airlock/v1", http_client=socket_client(), **options)


def async_openai_client(**options):
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key="unused", base_url="http://airlock/v1", http_client=socket_async_client(), **options)


def anthropic_client(**options):
    from anthropic import Anthropic

    return Anthropic(api_key="unused", base_url="http://airlock", http_client=socket_client(), **options)


def genai_client(**options):
    from google import genai
    from google.genai import types

    # Both clients: without httpx_async_client, client.aio makes its own and looks "airlock" up in DNS.
    http_options = types.HttpOptions(base_url="http://airlock", httpx_client=socket_client(), httpx_async_client=socket_async_client(), **options)
    return genai.Client(api_key="unused", http_options=http_options)


def mcp_client():
    """An MCP client session on the socket's /mcp: use as `async with mcp_client() as mcp:`."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    return Client(streamable_http_client("http://airlock/mcp", http_client=socket_async_client()))


def fastmcp_client():
    """fastmcp's Client on the socket's /mcp: use as `async with fastmcp_client() as mcp:`."""
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    return Client(StreamableHttpTransport("http://airlock/mcp", httpx_client_factory=socket_client_factory))
