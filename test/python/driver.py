"""Runs test cases for test/integration/python: one process per test file, driven over stdin/stdout
with one JSON object per line. A request is {"id", "case", "args"}; the answer is {"id", "ok": true,
"value"} or {"id", "ok": false, "error"} where error is what a Python user would see of the exception
(class, its base classes, str(), and the status/code/body attributes the SDKs put on it).

Usage: python driver.py <case module>... (each module fills registry.CASES with @case functions)."""

import asyncio
import importlib
import inspect
import json
import os
import sys
import traceback

from registry import CASES

ATTRIBUTES = ("status_code", "code", "status", "message", "type", "param", "body", "details", "request_id")


def _jsonable(value):
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def describe(error: BaseException) -> dict:
    """The exception as the test asserts on it: what the user catches and reads."""
    out = {
        "class": type(error).__name__,
        "module": type(error).__module__,
        "bases": [c.__name__ for c in type(error).__mro__],
        "str": str(error),
        "traceback": "".join(traceback.format_exception(error))[-4000:],
    }
    for name in ATTRIBUTES:
        value = getattr(error, name, None)
        if value is not None and _jsonable(value):
            out[name] = value
    # The HTTP response the SDK raised for (openai, anthropic, google-genai keep it on the error).
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None and hasattr(headers, "get"):
        out["retry_after"] = headers.get("retry-after")
    # MCP errors carry the JSON-RPC error object.
    data = getattr(error, "error", None)
    if data is not None and hasattr(data, "model_dump"):
        out["error"] = data.model_dump(mode="json")
    # Exception groups (anyio task groups) hide the cause a user would read.
    if isinstance(error, BaseExceptionGroup):
        out["exceptions"] = [describe(e) for e in error.exceptions]
    return out


async def main() -> None:
    for module in sys.argv[1:]:
        importlib.import_module(module)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": sorted(CASES)}), flush=True)
    while line := await reader.readline():
        request = json.loads(line)
        answer = {"id": request["id"]}
        if "socket" in request:
            os.environ["AIRLOCK_SOCKET"] = request["socket"]
        try:
            fn = CASES[request["case"]]
            result = fn(**request.get("args", {}))
            if inspect.isawaitable(result):
                result = await result
            answer.update(ok=True, value=result)
        except BaseException as error:  # noqa: BLE001 - every failure goes back to the test
            answer.update(ok=False, error=describe(error))
        print(json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
