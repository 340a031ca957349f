"""The OpenAI Agents SDK for Python through the socket: Runner.run with a function_tool, the SDK's
own loop (model, tool, model), on the Responses API and on chat completions."""

from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_default_openai_client, set_tracing_disabled

from airlock_clients import async_openai_client, socket_client_factory
from registry import case

# Traces would go to OpenAI; the socket is the only door.
set_tracing_disabled(True)


@case
async def run(model, city, api="responses"):
    calls = []

    @function_tool
    def get_weather(input: str) -> str:
        """Current weather for a city."""
        calls.append(input)
        return f"sunny in {input}"

    client = async_openai_client(max_retries=0)
    if api == "responses":
        set_default_openai_client(client, use_for_tracing=False)
        agent = Agent(name="weather", instructions="Answer with the weather tool.", tools=[get_weather], model=model)
    else:
        agent = Agent(name="weather", instructions="Answer with the weather tool.", tools=[get_weather], model=OpenAIChatCompletionsModel(model=model, openai_client=client))
    result = await Runner.run(agent, city)
    return {"calls": calls, "final": result.final_output, "items": [item.type for item in result.new_items]}


@case
async def run_with_mcp(model, text):
    """An agent whose tools are the sandbox's MCP tools, reached through the same socket."""
    from agents.mcp import MCPServerStreamableHttp

    params = {"url": "http://airlock/mcp", "httpx_client_factory": socket_client_factory}
    async with MCPServerStreamableHttp(params=params, cache_tools_list=True, name="airlock") as airlock:
        client = async_openai_client(max_retries=0)
        agent = Agent(name="echoer", instructions="Use the tools.", mcp_servers=[airlock], model=OpenAIChatCompletionsModel(model=model, openai_client=client))
        result = await Runner.run(agent, text)
    outputs = [str(item.output) for item in result.new_items if item.type == "tool_call_output_item"]
    return {"final": result.final_output, "items": [item.type for item in result.new_items], "outputs": outputs}
