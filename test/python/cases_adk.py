"""Google's ADK for Python through the socket: an LlmAgent with a function tool, run by ADK's
InMemoryRunner, its model ADK's Gemini class with a google-genai client on the socket (the
Gemini-native ingress), whichever provider serves the model. ADK 2 is built on google-genai 2, which
is built on httpx (not httpx2): the socket clients are docs/agents.md's, with httpx in place of httpx2.
Runs in its own venv (requirements-adk.txt), so it imports nothing from airlock_clients."""

import os

import httpx
from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models import Gemini
from google.adk.runners import InMemoryRunner
from google.genai import Client, types

from registry import case


def socket_genai_client() -> Client:
    """google-genai on the socket; ADK calls the async client, google-genai needs both."""
    uds = os.environ["AIRLOCK_SOCKET"]
    http_options = types.HttpOptions(
        base_url="http://airlock",
        httpx_client=httpx.Client(transport=httpx.HTTPTransport(uds=uds), timeout=60),
        httpx_async_client=httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=uds), timeout=60),
    )
    return Client(api_key="unused", http_options=http_options)


@case
async def run(model, city, stream=False):
    calls = []

    def get_weather(input: str) -> str:
        """Current weather for a city."""
        calls.append(input)
        return f"sunny in {input}"

    agent = LlmAgent(name="weather", model=Gemini(model=model, client=socket_genai_client()), instruction="Answer with the weather tool.", tools=[get_weather])
    runner = InMemoryRunner(agent=agent, app_name="airlock")
    session = await runner.session_service.create_session(app_name="airlock", user_id="user")
    message = types.Content(role="user", parts=[types.Part(text=city)])
    run_config = RunConfig(streaming_mode=StreamingMode.SSE if stream else StreamingMode.NONE)
    texts, partial_texts, called, answered = [], [], [], []
    prompt_tokens = output_tokens = 0
    async for event in runner.run_async(user_id="user", session_id=session.id, new_message=message, run_config=run_config):
        for part in (event.content.parts if event.content and event.content.parts else []):
            if part.text:
                (partial_texts if event.partial else texts).append(part.text)
            # Streamed, a call also shows in the partial event it arrived in; the final event repeats it.
            if event.partial:
                continue
            if part.function_call:
                called.append(part.function_call.name)
            if part.function_response:
                answered.append(part.function_response.response)
        # Each model turn reports its usage on its final (non-partial) event.
        if event.usage_metadata and not event.partial:
            prompt_tokens += event.usage_metadata.prompt_token_count or 0
            output_tokens += event.usage_metadata.candidates_token_count or 0
    return {
        "calls": calls,
        "called": called,
        "answered": answered,
        "final": "".join(texts),
        "partials": len(partial_texts),
        "usage": {"input": prompt_tokens, "output": output_tokens},
    }
