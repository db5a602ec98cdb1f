"""The shared JSON-helper vectors (guest-sdk/test-vectors/json-fields.json), which the Rust SDK
also runs: the same answers, codes and messages."""

import json as std_json
import os

import pytest

from weir_sdk import Record, RecordError, json

VECTORS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "test-vectors", "json-fields.json"
)


def load_cases():
    with open(VECTORS, encoding="utf-8") as f:
        return std_json.load(f)["cases"]


CASES = load_cases()


def run(case):
    obj = Record(case["payload"]).json_object()
    helper = getattr(json, case["helper"])
    return helper(obj, case["field"])


def test_there_are_enough_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case):
    if "ok" in case:
        got = run(case)
        want = case["ok"]
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            assert isinstance(got, (int, float)) and not isinstance(got, bool)
            assert float(got) == float(want)
        else:
            assert got == want
            assert type(got) is type(want)
        return
    with pytest.raises(RecordError) as info:
        run(case)
    e = info.value
    assert e.code == case["error"]
    if "message" in case:
        assert e.message == case["message"]
    for part in case.get("message_contains", []):
        assert part in e.message


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector_through_json_fields(case):
    """json_fields([field]) gives the same answers for these payloads."""
    def picked():
        obj = Record(case["payload"]).json_fields([case["field"]])
        return getattr(json, case["helper"])(obj, case["field"])

    if "ok" in case:
        assert picked() == run(case)
    else:
        with pytest.raises(RecordError) as info:
            picked()
        assert info.value.code == case["error"]
        if "message" in case:
            assert info.value.message == case["message"]
