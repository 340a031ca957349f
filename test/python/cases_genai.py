"""The google-genai Python SDK through the socket: generate_content (plain, streamed, function
calling), count_tokens, models.list and models.get, and errors."""

import base64

from google.genai import types

from airlock_clients import genai_client
from registry import case

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather for a city",
    parameters_json_schema={"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
)


def client():
    return genai_client(retry_options=types.HttpRetryOptions(attempts=1))


@case
def generate(model, text):
    response = client().models.generate_content(model=model, contents=text, config=types.GenerateContentConfig(system_instruction="Be brief."))
    usage = response.usage_metadata
    return {"text": response.text, "finish": response.candidates[0].finish_reason.value, "prompt_tokens": usage.prompt_token_count, "output_tokens": usage.candidates_token_count}


@case
def stream(model, text):
    chunks, parts, finish, total, none_texts = 0, [], None, None, 0
    for chunk in client().models.generate_content_stream(model=model, contents=text):
        chunks += 1
        none_texts += chunk.text is None
        parts.append(chunk.text or "")
        if chunk.candidates and chunk.candidates[0].finish_reason:
            finish = chunk.candidates[0].finish_reason.value
        if chunk.usage_metadata and chunk.usage_metadata.total_token_count:
            total = chunk.usage_metadata.total_token_count
    return {"chunks": chunks, "text": "".join(parts), "finish": finish, "total_tokens": total, "none_texts": none_texts}


@case
async def generate_async(model, text):
    """client.aio: the asyncio flavour, on the async httpx2 client."""
    genai = client()
    whole = await genai.aio.models.generate_content(model=model, contents=text)
    parts = [chunk.text or "" async for chunk in await genai.aio.models.generate_content_stream(model=model, contents=text)]
    return {"text": whole.text, "streamed": "".join(parts)}


@case
def function_call(model, text, result):
    genai = client()
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="AUTO")),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    contents = [types.Content(role="user", parts=[types.Part(text=text)])]
    first = genai.models.generate_content(model=model, contents=contents, config=config)
    calls = first.function_calls or []
    contents.append(first.candidates[0].content)
    contents.append(types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(name=c.name, id=c.id, response={"output": result})) for c in calls]))
    second = genai.models.generate_content(model=model, contents=contents, config=config)
    return {"calls": [{"name": c.name, "args": c.args} for c in calls], "answer": second.text}


@case
def automatic_function_calling(model, text):
    """The SDK's own loop: a Python function as a tool, called by the SDK and answered from."""
    seen = []

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        seen.append(city)
        return f"sunny in {city}"

    response = client().models.generate_content(model=model, contents=text, config=types.GenerateContentConfig(tools=[get_weather]))
    return {"seen": seen, "answer": response.text}


@case
def count_tokens(model, text):
    return client().models.count_tokens(model=model, contents=text).total_tokens


@case
def list_models():
    return sorted(m.name for m in client().models.list())


@case
def get_model(model):
    info = client().models.get(model=model)
    return {"name": info.name, "display_name": info.display_name}


@case
def embed(model, texts):
    response = client().models.embed_content(model=model, contents=texts)
    return [e.values for e in response.embeddings]


@case
def structured(model, text):
    """response_schema with a pydantic model; the SDK parses the JSON into response.parsed."""
    from pydantic import BaseModel

    class Place(BaseModel):
        name: str
        population: int

    response = client().models.generate_content(model=model, contents=text, config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=list[Place]))
    return [p.model_dump() for p in response.parsed]


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@case
def image(model, text):
    """Part.from_bytes, as the docs show: the SDK sends the part's inlineData fields in snake_case."""
    response = client().models.generate_content(model=model, contents=[text, types.Part.from_bytes(data=PNG, mime_type="image/png")])
    return response.text


@case
def thinking(model, text, budget):
    """thinking_config: the SDK sends thinking_budget in snake_case."""
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=budget), max_output_tokens=budget * 2)
    return client().models.generate_content(model=model, contents=text, config=config).text
