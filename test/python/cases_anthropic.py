"""The anthropic Python SDK through the socket: messages (plain, streamed, tools), count_tokens,
models.retrieve and models.list, and errors."""

from airlock_clients import anthropic_client, socket_async_client
from registry import case

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
}


def client():
    return anthropic_client(max_retries=0)


@case
def create(model, text, max_tokens=1024):
    message = client().messages.create(model=model, max_tokens=max_tokens, system="Be brief.", messages=[{"role": "user", "content": text}])
    return {"id": message.id, "type": message.type, "role": message.role, "model": message.model, "text": "".join(b.text for b in message.content if b.type == "text"), "stop_reason": message.stop_reason, "usage": message.usage.model_dump()}


@case
def stream(model, text):
    events = []
    with client().messages.stream(model=model, max_tokens=1024, messages=[{"role": "user", "content": text}]) as stream:
        for event in stream:
            events.append(event.type)
        text_out = stream.get_final_text()
        final = stream.get_final_message()
    return {"events": events, "text": text_out, "stop_reason": final.stop_reason, "usage": final.usage.model_dump(), "id": final.id}


@case
async def stream_async(model, text):
    """AsyncAnthropic on the async httpx2 client, streamed."""
    from anthropic import AsyncAnthropic

    anthropic = AsyncAnthropic(api_key="unused", base_url="http://airlock", http_client=socket_async_client(), max_retries=0)
    async with anthropic.messages.stream(model=model, max_tokens=1024, messages=[{"role": "user", "content": text}]) as stream:
        return await stream.get_final_text()


@case
def tools(model, text, result, streamed=False):
    anthropic = client()
    messages = [{"role": "user", "content": text}]
    if streamed:
        with anthropic.messages.stream(model=model, max_tokens=1024, tools=[WEATHER], messages=messages) as events:
            first = events.get_final_message()
    else:
        first = anthropic.messages.create(model=model, max_tokens=1024, tools=[WEATHER], messages=messages)
    uses = [b for b in first.content if b.type == "tool_use"]
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": u.id, "content": result} for u in uses]})
    second = anthropic.messages.create(model=model, max_tokens=1024, tools=[WEATHER], messages=messages)
    return {"stop_reason": first.stop_reason, "uses": [{"id": u.id, "name": u.name, "input": u.input} for u in uses], "answer": "".join(b.text for b in second.content if b.type == "text")}


@case
def count_tokens(model, text):
    raw = client().messages.with_raw_response.count_tokens(model=model, messages=[{"role": "user", "content": text}])
    return {"input_tokens": raw.parse().input_tokens, "estimate": raw.headers.get("x-airlock-token-count")}


@case
def retrieve(model):
    info = client().models.retrieve(model)
    return info.model_dump(mode="json")


@case
def list_models():
    return sorted(m.id for m in client().models.list())


@case
def raw(body):
    """A request the SDK sends as given, so a malformed field reaches the server."""
    client().messages.create(**body)
