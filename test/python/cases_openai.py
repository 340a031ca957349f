"""The openai Python SDK through the socket: chat completions (plain, streamed, tools), the Responses
API (plain, streamed, function tools with a second turn, previous_response_id), models, and errors."""

import json

from airlock_clients import openai_client
from registry import case

WEATHER_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
    },
}
WEATHER_RESPONSES = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"], "additionalProperties": False},
    "strict": True,
}


def client():
    return openai_client(max_retries=0)


@case
def models():
    return sorted(m.id for m in client().models.list())


@case
def chat_plain(model, text):
    reply = client().chat.completions.create(model=model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}])
    return {"id": reply.id, "model": reply.model, "text": reply.choices[0].message.content, "finish": reply.choices[0].finish_reason, "usage": reply.usage.model_dump() if reply.usage else None}


@case
def chat_stream(model, text):
    stream = client().chat.completions.create(model=model, messages=[{"role": "user", "content": text}], stream=True, stream_options={"include_usage": True})
    chunks, parts, finish, usage = 0, [], None, None
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
        if chunk.usage:
            usage = chunk.usage.model_dump()
    return {"chunks": chunks, "text": "".join(parts), "finish": finish, "usage": usage}


@case
def chat_tools(model, text, result):
    openai = client()
    messages = [{"role": "user", "content": text}]
    first = openai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_CHAT])
    message = first.choices[0].message
    calls = [{"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in message.tool_calls or []]
    messages.append(message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": result} for c in calls]
    second = openai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_CHAT])
    return {"finish": first.choices[0].finish_reason, "calls": calls, "answer": second.choices[0].message.content}


@case
def chat_tools_stream(model, text):
    stream = client().chat.completions.create(model=model, messages=[{"role": "user", "content": text}], tools=[WEATHER_CHAT], stream=True)
    calls, finish = {}, None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                call["name"] += (delta.function.name or "") if delta.function else ""
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    return {"finish": finish, "calls": [{**c, "arguments": json.loads(c["arguments"])} for c in calls.values()]}


@case
def responses_plain(model, text):
    response = client().responses.create(model=model, input=text, instructions="Be brief.")
    return {"id": response.id, "object": response.object, "status": response.status, "model": response.model, "text": response.output_text, "output": [o.type for o in response.output], "usage": response.usage.model_dump() if response.usage else None}


@case
def responses_stream(model, text):
    openai = client()
    events = []
    with openai.responses.stream(model=model, input=text) as stream:
        for event in stream:
            events.append(event.type)
        final = stream.get_final_response()
    return {"events": events, "text": final.output_text, "status": final.status, "id": final.id}


@case
def responses_tools(model, text, result, stream=False):
    """A function-tool round trip: the call, then the output sent back as input items."""
    openai = client()
    if stream:
        with openai.responses.stream(model=model, input=text, tools=[WEATHER_RESPONSES]) as events:
            for _ in events:
                pass
            first = events.get_final_response()
    else:
        first = openai.responses.create(model=model, input=text, tools=[WEATHER_RESPONSES])
    calls = [o for o in first.output if o.type == "function_call"]
    items = [{"role": "user", "content": text}, *[c.model_dump(exclude_none=True) for c in calls]]
    items += [{"type": "function_call_output", "call_id": c.call_id, "output": result} for c in calls]
    second = openai.responses.create(model=model, input=items, tools=[WEATHER_RESPONSES])
    return {"calls": [{"name": c.name, "call_id": c.call_id, "arguments": json.loads(c.arguments)} for c in calls], "answer": second.output_text}


@case
def responses_previous(model, text, result):
    """The second turn names the first by previous_response_id and sends only the tool output."""
    openai = client()
    first = openai.responses.create(model=model, input=text, tools=[WEATHER_RESPONSES])
    calls = [o for o in first.output if o.type == "function_call"]
    second = openai.responses.create(model=model, previous_response_id=first.id, tools=[WEATHER_RESPONSES], input=[{"type": "function_call_output", "call_id": c.call_id, "output": result} for c in calls])
    third = openai.responses.create(model=model, previous_response_id=second.id, input="and now?")
    return {"calls": len(calls), "answer": second.output_text, "third": third.output_text}


@case
def responses_unknown_previous(model):
    client().responses.create(model=model, previous_response_id="resp_neverissued0000", input="hi")


@case
def chat_raw(body):
    """A request the SDK sends as given (extra_body) so a malformed field reaches the server."""
    client().chat.completions.create(**body)


@case
def responses_retrieve(model, text):
    """retrieve, input_items.list and delete of a response just made; retrieve again after delete."""
    openai = client()
    made = openai.responses.create(model=model, input=text)
    got = openai.responses.retrieve(made.id)
    items = list(openai.responses.input_items.list(made.id))
    openai.responses.delete(made.id)
    return {
        "same": got.model_dump(mode="json") == made.model_dump(mode="json"),
        "text": got.output_text,
        "items": [{"type": i.type, "role": i.role, "text": i.content[0].text, "id": i.id[:4]} for i in items],
        "id": made.id,
    }


@case
def responses_retrieve_id(response_id):
    client().responses.retrieve(response_id)


@case
def parse(model, text, api="chat"):
    """Structured output with a pydantic model: chat.completions.parse or responses.parse."""
    from pydantic import BaseModel

    class Place(BaseModel):
        name: str
        country: str
        population: int

    class Answer(BaseModel):
        places: list[Place]
        sure: bool

    if api == "chat":
        parsed = client().chat.completions.parse(model=model, messages=[{"role": "user", "content": text}], response_format=Answer).choices[0].message.parsed
    else:
        parsed = client().responses.parse(model=model, input=text, text_format=Answer).output_parsed
    return parsed.model_dump()
