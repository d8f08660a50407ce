"""Both webhooks fuzzed in-process with authenticated but hostile bodies (issue 10).

Bodies are real payloads (the RemoteExecutionContexts of tests/fixtures, Microsoft's sample in
../shared/samples when present, Xero's event batch) mutated at every level: wrong types, missing and
extra keys, deep nesting, lone surrogates, huge numbers, bad ids and dates, broken bytes. Every body is
authenticated (the shared secret; a valid Xero signature), so each one reaches the parsing code.

The property is the host's: 2xx or 4xx, never a 5xx or an exception; a 4xx says why (Dataverse: JSON
{"error": …}; Xero: an empty body, as Xero's contract wants) and enqueues nothing; whatever is enqueued
parses as a queue message.

Budget: FUZZ_EXAMPLES examples per webhook (2,000 by default, for CI; `make fuzz` runs 10,000),
derandomized so a CI failure reproduces.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connector.bootstrap import App, use_app, xero_details_table
from connector.domain.messages import (
    InvoiceCancelMessage,
    InvoiceSyncMessage,
    XeroEventMessage,
    parse_message,
)
from connector.entrypoints.xero_signature import sign
from connector.settings import get_settings
from tests.fakes.queues import FakeQueueSender
from tests.fixtures import dataverse_payloads as payloads
from tests.functions import user_function

settings.register_profile(
    "webhook-fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    derandomize=True,  # a fixed sequence per test: a CI failure reproduces locally
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one App per test, its queue emptied per example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
FUZZ = settings.get_profile("webhook-fuzz")

DV_URL = "http://localhost:7071/api/dataverse/invoices"
XERO_URL = "http://localhost:7071/api/xero/webhook"
DV_SECRET = "test-dataverse-secret"  # tests/conftest.py BASE_ENV
XERO_KEY = "test-xero-webhook-key"
SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
DEEP = 3000  # levels: well past json's and pydantic's recursion limits
DETAILS = xero_details_table("xc")  # the default publisher prefix, which tests/conftest.py keeps


# --- the real payloads the mutations start from ----------------------------------------------------


def _details_update(export_status: int) -> dict[str, Any]:
    table = DETAILS
    details_id = "aaaaaaaa-0000-0000-0000-000000000001"
    image = payloads.entity(
        {
            table.export_status_column: payloads.option(export_status),
            table.invoice_column: payloads.entity_reference("invoice", payloads.INVOICE_ID),
        },
        id_=details_id,
        logical_name=table.logical_name,
    )
    target = payloads.entity(
        {table.export_status_column: payloads.option(export_status)},
        id_=details_id,
        logical_name=table.logical_name,
    )
    body = payloads.context(
        "Update", {"Target": target}, post={"PostImage": image}, entity_name=table.logical_name
    )
    body["PrimaryEntityId"] = details_id
    return body


def dataverse_bases() -> list[dict[str, Any]]:
    bases = [
        payloads.invoice_create(),
        payloads.invoice_update_with_images(),
        payloads.invoice_update_cancel(),
        payloads.invoice_setstate_cancel(),
        payloads.invoice_setstate_cancel("SetState"),
        payloads.invoice_delete(),
        payloads.size_exceeded(),
        _details_update(100000000),
        _details_update(100000003),
    ]
    for sample in sorted(SAMPLE.glob("dataverse-webhook-*.json")) if SAMPLE.is_dir() else []:
        as_invoice = json.loads(sample.read_text(encoding="utf-8-sig"))
        bases.append(copy.deepcopy(as_invoice))
        as_invoice["PrimaryEntityName"] = "invoice"  # Microsoft's shape, routed as one of ours
        bases.append(as_invoice)
    return bases


def _xero_event(n: int, category: str = "INVOICE") -> dict[str, Any]:
    resource_id = f"0f3c1d4e-0000-0000-0000-{n:012d}"
    return {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource_id}",
        "resourceId": resource_id,
        "eventDateUtc": "2026-11-21T01:15:39.902",
        "eventType": "UPDATE",
        "eventCategory": category,
        "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
        "tenantType": "ORGANISATION",
    }


def xero_bases() -> list[dict[str, Any]]:
    batch = [_xero_event(1), _xero_event(2, "CONTACT"), _xero_event(3, "CREDITNOTE")]
    return [
        {
            "events": [_xero_event(1)],
            "firstEventSequence": 1,
            "lastEventSequence": 1,
            "entropy": "S0m3r4Nd0m",
        },
        {"events": batch, "firstEventSequence": 7, "lastEventSequence": 9, "entropy": "QWERTYUIOPASDFGHJKLZ"},
        {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "intent-to-receive"},
    ]


# --- hostile values ----------------------------------------------------------------------------------

RAW = "\x00raw:"  # a string value replaced after json.dumps by raw JSON text (what dumps cannot write)
_RAW_DUMPED = json.dumps(RAW)[:-1]

raw_tokens = st.sampled_from(
    [
        "[" * DEEP + "]" * DEEP,
        '{"a":' * DEEP + "1" + "}" * DEEP,
        "1" + "0" * 5000,  # past Python's 4300-digit int limit
        "-" + "9" * 400,
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "1E-400",
        "-0",
    ]
).map(lambda raw: RAW + raw)

lone_surrogate_text = st.builds(
    lambda head, surrogate, tail: head + surrogate + tail,
    st.text(max_size=8),
    st.sampled_from(["\ud800", "\udfff", "\udc00", "\udbff"]),
    st.text(max_size=8),
)
bad_ids = st.sampled_from(
    [
        "",
        "not-a-guid",
        "00000000-0000-0000-0000-000000000000",
        "3f2504e0-4f89-11d3-9a0c-0305e82c330",
        "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
        "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301\ud800",
        "3f2504e04f8911d39a0c0305e82c3301",
    ]
)
bad_dates = st.sampled_from(
    [
        "/Date(abc)/",
        "/Date(99999999999999999999)/",
        "/Date(-99999999999999)/",
        "/Date(1506409448000-0700)/",
        "/Date(" + "9" * 5000 + ")/",
        "/Date(",
        "2026-13-45T25:61:61Z",
        "0000-00-00",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(),
    st.text(max_size=12),
    lone_surrogate_text,
    bad_ids,
    bad_dates,
)
_contracts = payloads.CONTRACTS


def _typed(draw_value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Dataverse's typed values, holding the wrong thing."""
    return st.one_of(
        st.builds(lambda v: {"__type": f"OptionSetValue:{_contracts}", "Value": v}, draw_value),
        st.builds(lambda v: {"__type": f"Money:{_contracts}", "Value": v}, draw_value),
        st.builds(lambda v: {"Value": v}, draw_value),
        st.builds(
            lambda i, n: {"__type": f"EntityReference:{_contracts}", "Id": i, "LogicalName": n},
            draw_value,
            draw_value,
        ),
        st.builds(lambda i: {"Id": i, "LogicalName": "invoice"}, draw_value),
        st.builds(lambda a: {"__type": f"Entity:{_contracts}", "Attributes": a}, draw_value),
        st.builds(lambda a, i: {"Attributes": a, "Id": i}, draw_value, draw_value),
        st.builds(lambda k, v: [{"key": k, "value": v}], draw_value, draw_value),
        st.builds(lambda k: [{"key": k}], draw_value),
        st.builds(lambda v: [{"value": v}], draw_value),
        st.builds(lambda v: [[v, v]], draw_value),
    )


hostile = st.recursive(
    st.one_of(scalars, raw_tokens),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=6), lone_surrogate_text), inner, max_size=3),
        _typed(inner),
    ),
    max_leaves=6,
)


# Values a lenient reader accepts, to get past the first check and reach the code behind it.
SAME_TYPE: dict[type, st.SearchStrategy[Any]] = {
    str: st.one_of(st.text(), lone_surrogate_text, bad_ids, bad_dates, st.text(min_size=5000, max_size=6000)),
    int: st.one_of(st.integers(), st.integers(min_value=2**63, max_value=2**200), raw_tokens),
    float: st.one_of(st.floats(), raw_tokens),
    bool: st.booleans(),
}


# --- mutating a document -----------------------------------------------------------------------------


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


@st.composite
def mutated(draw: st.DrawFn, bases: list[dict[str, Any]]) -> Any:
    """A base payload with one to four changes at random depths."""
    doc: Any = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        parent: Any = None
        key: Any = None
        node = doc
        for _ in range(draw(st.integers(0, 9))):
            options = _children(node)
            if not options:
                break
            parent, key = node, draw(st.sampled_from(options))
            node = node[key]
        action = draw(
            st.sampled_from(["replace", "replace", "same_type", "same_type", "drop", "add", "wrap"])
        )
        if parent is None:
            if action in ("replace", "wrap"):
                doc = draw(hostile) if action == "replace" else [doc]
            elif isinstance(doc, dict) and action == "add":
                doc[draw(st.text(max_size=8))] = draw(hostile)
            continue
        if action == "replace":
            parent[key] = draw(hostile)
        elif action == "same_type" and type(node) in SAME_TYPE:
            parent[key] = draw(SAME_TYPE[type(node)])
        elif action == "drop":
            del parent[key]
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[node], {"key": key, "value": node}, {"Value": node}]))
        elif isinstance(node, dict):
            node[draw(st.one_of(st.text(max_size=8), lone_surrogate_text))] = draw(hostile)
        elif isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(hostile))
        else:
            parent[key] = draw(hostile)
    return doc


def _at(doc: dict[str, Any], *path: Any) -> Any:
    node: Any = doc
    for step in path:
        node = node[step]
    return node


@st.composite
def targeted(draw: st.DrawFn) -> Any:
    """The sites the issue names, hit on purpose rather than by chance."""
    table = DETAILS
    choice = draw(st.sampled_from(["export_status", "details_invoice", "attributes", "strings", "state"]))
    if choice in ("export_status", "details_invoice"):
        doc = _details_update(100000000)
        attributes = _at(doc, "PostEntityImages", 0, "value", "Attributes")
        column = table.export_status_column if choice == "export_status" else table.invoice_column
        pair = next(p for p in attributes if p["key"] == column)
        pair["value"] = draw(
            st.one_of(
                hostile,
                st.builds(lambda v: {"__type": f"OptionSetValue:{_contracts}", "Value": v}, hostile),
                st.builds(lambda i: payloads.entity_reference("invoice", i), st.one_of(bad_ids, hostile)),
            )
        )
        return doc
    doc = draw(st.sampled_from([payloads.invoice_create(), payloads.invoice_update_cancel()]))
    if choice == "attributes":
        _at(doc, "InputParameters", 0, "value")["Attributes"] = draw(hostile)
    elif choice == "state":
        pair = _at(doc, "InputParameters", 0, "value", "Attributes")
        pair.append({"key": "statecode", "value": draw(hostile)})
    else:
        field = draw(st.sampled_from(["CorrelationId", "OrganizationName", "MessageName", "PrimaryEntityId"]))
        doc[field] = draw(st.one_of(lone_surrogate_text, hostile))
    return doc


def encode(doc: Any) -> bytes:
    """As a sender would: ASCII-only JSON (lone surrogates as \\ud800 escapes), raw tokens spliced in."""
    text = json.dumps(doc, ensure_ascii=True)
    while (start := text.find(_RAW_DUMPED)) != -1:
        value, end = json.decoder.scanstring(text, start + 1)  # type: ignore[attr-defined]
        text = text[:start] + value[len(RAW) :] + text[end:]
    return text.encode("ascii")


@st.composite
def broken_bytes(draw: st.DrawFn, bases: list[dict[str, Any]]) -> bytes:
    """A valid body cut short, or with bytes that are not UTF-8, or deep nesting spliced in anywhere."""
    body = encode(draw(st.sampled_from(bases)))
    at = draw(st.integers(0, len(body)))
    kind = draw(st.sampled_from(["cut", "bytes", "deep", "empty"]))
    if kind == "cut":
        return body[:at]
    if kind == "bytes":
        return body[:at] + draw(st.binary(min_size=1, max_size=6)) + body[at:]
    if kind == "deep":
        return body[:at] + b"[" * DEEP + body[at:]
    return draw(st.sampled_from([b"", b" ", b"null", b"[]", b"0", b'""', b"\xef\xbb\xbf{}"]))


def bodies(
    bases: list[dict[str, Any]], extra: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[bytes]:
    docs = mutated(bases) if extra is None else st.one_of(mutated(bases), extra)
    return st.one_of(docs.map(encode), docs.map(encode), docs.map(encode), broken_bytes(bases))


# --- calling the functions as the host does -----------------------------------------------------------


@pytest.fixture
def queues() -> Iterator[FakeQueueSender]:
    sender = FakeQueueSender()
    use_app(App(settings=get_settings(), queues=sender, handlers={}))
    yield sender
    use_app(None)


@pytest.fixture
def run() -> Iterator[Callable[[str, func.HttpRequest], func.HttpResponse]]:
    loop = asyncio.new_event_loop()

    def call(name: str, request: func.HttpRequest) -> func.HttpResponse:
        response = loop.run_until_complete(user_function(name)(request))
        assert isinstance(response, func.HttpResponse)
        return response

    yield call
    loop.close()


def _check_enqueued(queues: FakeQueueSender, allowed: tuple[type, ...]) -> None:
    for sent in queues.sent:
        assert isinstance(parse_message(sent.body), allowed)


@FUZZ
@given(body=bodies(dataverse_bases(), targeted()))
def test_fuzz_dataverse_webhook_answers_2xx_or_4xx_with_a_reason(
    body: bytes, queues: FakeQueueSender, run: Callable[[str, func.HttpRequest], func.HttpResponse]
) -> None:
    queues.sent.clear()
    response = run(
        "dataverse_invoice_webhook", func.HttpRequest("POST", DV_URL, body=body, params={"code": DV_SECRET})
    )
    assert response.status_code in (200, 202, 400), response.status_code
    answer = json.loads(response.get_body())
    event(f"HTTP {response.status_code}")  # the spread shows in --hypothesis-show-statistics
    if response.status_code == 400:
        assert isinstance(answer["error"], str) and answer["error"]
        assert queues.sent == []
    elif response.status_code == 200:
        assert isinstance(answer["ignored"], str) and answer["ignored"]
        assert queues.sent == []
    else:
        assert len(queues.sent) == 1
        _check_enqueued(queues, (InvoiceSyncMessage, InvoiceCancelMessage))


@FUZZ
@given(body=bodies(xero_bases()))
def test_fuzz_signed_xero_webhook_answers_200_or_400_empty(
    body: bytes, queues: FakeQueueSender, run: Callable[[str, func.HttpRequest], func.HttpResponse]
) -> None:
    queues.sent.clear()
    headers = {"x-xero-signature": sign(body, XERO_KEY)}
    response = run("xero_webhook", func.HttpRequest("POST", XERO_URL, body=body, headers=headers))
    assert response.status_code in (200, 400), response.status_code
    assert response.get_body() == b""  # Xero's contract: no body, whatever the outcome
    event(f"HTTP {response.status_code}, {len(queues.sent)} enqueued")
    if response.status_code == 400:
        assert queues.sent == []
    else:
        assert {sent.queue for sent in queues.sent} <= {get_settings().xero_events_queue}
        _check_enqueued(queues, (XeroEventMessage,))
