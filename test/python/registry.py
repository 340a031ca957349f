"""The test cases driver.py can run, by name; case modules register theirs with @case."""

CASES = {}


def case(fn):
    """Registers `fn` under its module's short name and its own, e.g. `openai.chat_plain`."""
    module = fn.__module__.removeprefix("cases_")
    CASES[f"{module}.{fn.__name__}"] = fn
    return fn
