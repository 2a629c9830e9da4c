"""Fuzzed bodies against a real gateway: every one gets a 4xx Anthropic error and one log row.

Each generated body is broken on purpose, in one of many ways: a field of the
Messages API given a value of the wrong type or range, the JSON itself
damaged (integers past 64 bits, NaN/Infinity, nesting 10,000 deep, invalid
UTF-8, a BOM, duplicate keys, truncation, an empty body), or a content type a
web page could send. The rest of the body is a valid request with extra
fields of every JSON type, so what is wrong is always one thing among many.
"""

from __future__ import annotations

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from requestlog.models import Outcome

#: Bodies sent, split between the two endpoints that parse a Messages request.
MESSAGES_EXAMPLES = 7_000
COUNT_TOKENS_EXAMPLES = 3_000
#: Nesting depth well past what the JSON parser accepts (1,024).
DEEP = 10_000

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
not_a_string = json_value.filter(lambda v: not isinstance(v, str))
not_a_list = json_value.filter(lambda v: not isinstance(v, list))
not_an_object = json_value.filter(lambda v: not isinstance(v, dict))
not_a_bool = json_value.filter(lambda v: not isinstance(v, bool) and v is not None)
not_a_number = json_value.filter(
    lambda v: v is not None and (isinstance(v, bool) or not isinstance(v, int | float))
)
not_an_int = json_value.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))
blank = st.sampled_from(["", " ", "\t\n"])

VALID_MESSAGE = {"role": "user", "content": "Hello"}


def base_request() -> st.SearchStrategy[dict]:
    """A valid request with extra fields of any type (which the gateway must pass along)."""
    return st.fixed_dictionaries(
        {
            "model": st.just("claude-fuzz"),
            "max_tokens": st.just(16),
            "messages": st.just([VALID_MESSAGE]),
        },
        optional={
            "x_extra": json_value,
            "metadata": st.fixed_dictionaries({"user_id": st.text(max_size=30)}),
            "temperature": st.floats(min_value=0, max_value=1),
        },
    )


def breakages(need_max_tokens: bool) -> st.SearchStrategy[tuple[str, object]]:
    """(path, value) pairs that validation must refuse; value MISSING deletes the field."""
    field_breaks = [
        st.tuples(st.just("model"), not_a_string | blank | st.just(MISSING)),
        st.tuples(st.just("messages"), not_a_list | st.just([]) | st.just(MISSING)),
        st.tuples(
            st.just("messages"),
            st.lists(not_an_object, min_size=1, max_size=3),
        ),
        st.tuples(
            st.just("messages"),
            st.builds(
                lambda role: [{"role": role, "content": "x"}],
                json_value.filter(lambda r: r not in ("user", "assistant", "system")),
            ),
        ),
        st.tuples(
            st.just("messages"),
            st.builds(
                lambda content: [{"role": "user", "content": content}],
                json_value.filter(lambda c: not isinstance(c, str | list)),
            ),
        ),
        st.tuples(st.just("messages"), st.just([{"role": "user"}])),
        st.tuples(
            st.just("messages"),
            st.builds(
                lambda block: [{"role": "user", "content": [block]}],
                not_an_object
                | st.builds(lambda t: {"type": t}, not_a_string | st.just(""))
                | st.builds(lambda t: {"type": "text", "text": t}, not_a_string),
            ),
        ),
        st.tuples(st.just("system"), json_value.filter(lambda v: not isinstance(v, str | list))),
        st.tuples(st.just("system"), st.lists(not_an_object, min_size=1, max_size=2)),
        st.tuples(st.just("stream"), not_a_bool),
        st.tuples(st.just("metadata"), not_an_object.filter(lambda v: v is not None)),
        st.tuples(st.just("tool_choice"), not_an_object.filter(lambda v: v is not None)),
        st.tuples(st.just("thinking"), not_an_object.filter(lambda v: v is not None)),
        st.tuples(st.sampled_from(["temperature", "top_p"]), not_a_number),
        st.tuples(
            st.just("top_k"),
            not_an_int.filter(lambda v: v is not None)
            | st.integers(min_value=-(2**63), max_value=-1),
        ),
        st.tuples(
            st.just("stop_sequences"),
            not_a_list | st.lists(not_a_string, min_size=1, max_size=3),
        ),
        st.tuples(st.just("tools"), not_a_list.filter(lambda v: v is not None)),
        st.tuples(st.just("tools"), st.lists(not_an_object, min_size=1, max_size=2)),
        st.tuples(
            st.just("tools"),
            st.builds(lambda name: [{"name": name}], not_a_string | st.just("")),
        ),
    ]
    if need_max_tokens:
        field_breaks.append(
            st.tuples(
                st.just("max_tokens"),
                not_an_int | st.integers(min_value=-(2**63), max_value=0) | st.just(MISSING),
            )
        )
    return st.one_of(field_breaks)


MISSING = object()


def broken_json(need_max_tokens: bool) -> st.SearchStrategy[bytes]:
    def apply(request: dict, breakage: tuple[str, object]) -> bytes:
        name, value = breakage
        request = dict(request)
        if value is MISSING:
            request.pop(name, None)
        else:
            request[name] = value
        return orjson.dumps(request)

    return st.builds(apply, base_request(), breakages(need_max_tokens))


def damaged_bytes() -> st.SearchStrategy[bytes]:
    """JSON that no parser should take, or a JSON value that is not a request object."""
    valid = orjson.dumps({"model": "m", "max_tokens": 5, "messages": [VALID_MESSAGE]})
    return st.one_of(
        st.just(b""),
        st.just(b"   "),
        st.builds(lambda n: b"[" * n, st.integers(min_value=1025, max_value=DEEP)),
        st.just(b'{"x":' * DEEP + b"1" + b"}" * DEEP),
        st.builds(
            lambda big: b'{"model": "m", "max_tokens": ' + str(big).encode() + b', "messages": []}',
            st.integers(min_value=2**64),
        ),
        st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]).map(
            lambda word: b'{"model": "m", "max_tokens": 5, "temperature": ' + word + b"}"
        ),
        st.just(b"\xef\xbb\xbf" + valid),  # a BOM
        st.binary(min_size=1, max_size=8).map(lambda junk: valid[:20] + b"\xff\xfe" + junk),
        st.integers(min_value=1, max_value=len(valid) - 1).map(lambda cut: valid[:cut]),
        st.just(b'{"model": "m", "max_tokens": 5, "messages": [], "messages": 7}'),
        json_value.filter(lambda v: not isinstance(v, dict)).map(orjson.dumps),
    )


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ]
)


def fuzz(gateway, path: str, examples: int, need_max_tokens: bool) -> list[str]:
    """Send `examples` broken bodies to `path`; return the request ids of the answers."""
    request_ids: list[str] = []
    bodies = st.tuples(broken_json(need_max_tokens) | damaged_bytes(), CONTENT_TYPES)

    with httpx.Client(base_url=gateway.url, timeout=30) as client:

        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(bodies)
        def send(case: tuple[bytes, str]) -> None:
            body, content_type = case
            response = client.post(path, content=body, headers={"content-type": content_type})
            assert 400 <= response.status_code < 500, (response.status_code, body[:300])
            assert response.headers.get("content-type") == "application/json", (
                response.status_code,
                response.headers,
                response.content[:200],
                body[:100],
                content_type,
            )
            error = response.json()
            assert error["type"] == "error"
            assert isinstance(error["error"]["message"], str) and error["error"]["message"]
            request_ids.append(response.headers["x-switchboard-request-id"])

        send()
    return request_ids


# Hypothesis warns when it builds the repr of a large generated body (10,000 levels of
# nesting); that is about its own reporting, not about the gateway.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_it_answers_every_broken_body_with_a_4xx_and_logs_each_once(
    gateway, fake_upstream, log_rows
):
    sent = fuzz(gateway, "/v1/messages", MESSAGES_EXAMPLES, need_max_tokens=True)
    sent += fuzz(gateway, "/v1/messages/count_tokens", COUNT_TOKENS_EXAMPLES, need_max_tokens=False)

    rows = log_rows()
    assert len(sent) >= MESSAGES_EXAMPLES + COUNT_TOKENS_EXAMPLES
    assert sorted(row.request_id for row in rows) == sorted(sent)
    assert {row.outcome for row in rows} == {Outcome.CLIENT_ERROR}
    assert fake_upstream.requests == []  # nothing broken was forwarded
