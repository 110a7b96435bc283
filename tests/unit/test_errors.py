"""Classification of Meta's answers by code / subcode / is_transient (never by `type`)."""

from __future__ import annotations

import pytest

from relay.outbound import ErrorKind
from relay.vendors.meta_capi.errors import classify, network_error, not_graph, trace_id


def body(code: int, subcode: int | None = None, transient: bool | None = None, type_: str = "OAuthException"):
    error: dict[str, object] = {"message": "m", "type": type_, "code": code, "fbtrace_id": "T"}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    return {"error": error}


@pytest.mark.parametrize(
    ("status", "doc", "kind"),
    [
        *[(400, body(c), ErrorKind.RETRY) for c in (1, 2, 4, 17, 32, 341, 368, 613, 80000, 80004, 80014)],
        (400, body(100, 2804050, transient=True), ErrorKind.RETRY),
        (500, body(100), ErrorKind.RETRY),
        (400, body(99999), ErrorKind.RETRY),
        *[(400, body(c), ErrorKind.AUTH) for c in (190, 102, 10, 3, 200, 270, 299, 2635)],
        (400, body(190, 463), ErrorKind.AUTH),
        (400, body(100, 33), ErrorKind.AUTH),
        (400, body(100, 2804050), ErrorKind.INVALID),
        (400, body(100, 2804003, type_="GraphMethodException"), ErrorKind.INVALID),
        # Not a Graph error object (None: the body was not JSON): not Meta's answer, whatever the status
        *[(s, None, ErrorKind.TRANSPORT) for s in (400, 403, 404, 429, 500, 502, 503)],
        (403, {"message": "Forbidden"}, ErrorKind.TRANSPORT),
        (502, "<html>bad gateway</html>", ErrorKind.TRANSPORT),
        (400, {"error": "invalid_request"}, ErrorKind.TRANSPORT),
        # Any 3xx, even with a Graph-looking body: redirects are never followed
        *[(s, None, ErrorKind.TRANSPORT) for s in (301, 302, 303, 307, 308)],
        (302, body(100, 2804050), ErrorKind.TRANSPORT),
    ],
)
def test_classification(status, doc, kind):
    # GIVEN a non-2xx answer
    # WHEN classified
    error = classify(status, doc)
    # THEN the kind follows code / subcode / is_transient / HTTP status, never the `type`
    assert error.kind is kind
    assert error.retryable is (kind in (ErrorKind.RETRY, ErrorKind.TRANSPORT))


def test_summary_names_codes_and_trace_but_not_metas_message():
    # GIVEN an error whose message could quote payload values
    error = classify(
        400,
        {
            "error": {
                "message": "Invalid em value jane@example.com",
                "code": 100,
                "error_subcode": 2804050,
                "fbtrace_id": "AbC",
            }
        },
    )
    # WHEN summarised for logs, metrics and DLQ attributes
    text = error.summary()
    # THEN it carries status, code/subcode and trace only
    assert text == "http 400, code 100/2804050, fbtrace AbC"


def test_network_errors_are_retryable():
    # GIVEN a timeout
    error = network_error("ReadTimeoutError")
    # THEN it is retried and described without a status
    assert error.retryable
    assert error.summary() == "no response, ReadTimeoutError"


@pytest.mark.parametrize(
    ("status", "content_type", "summary"),
    [
        (302, "text/html; charset=utf-8", "http 302, not a Graph answer: redirect not followed (text/html)"),
        (403, "TEXT/HTML", "http 403, not a Graph answer: no Graph error object (text/html)"),
        (502, "", "http 502, not a Graph answer: no Graph error object (no content type)"),
        (404, "x" * 200, "http 404, not a Graph answer: no Graph error object (other)"),
    ],
)
def test_an_answer_that_is_not_metas_is_transport_and_says_what_it_was(status, content_type, summary):
    # GIVEN an answer without a Graph error object, with a media type (or garbage in its place)
    # WHEN classified
    error = classify(status, None, content_type=content_type)
    # THEN TRANSPORT, retryable, summarised with the status and a clean media type only
    assert (error.kind, error.retryable, error.code) == (ErrorKind.TRANSPORT, True, None)
    assert error.summary() == summary


def test_a_success_without_events_received_is_transport():
    # GIVEN a 200 whose body is an HTML page / WHEN described as not Meta's
    error = not_graph(200, "text/html", "no events_received in a success")
    # THEN TRANSPORT with that reason
    assert error.kind is ErrorKind.TRANSPORT
    assert error.summary() == "http 200, not a Graph answer: no events_received in a success (text/html)"


@pytest.mark.parametrize(
    ("value", "kept"),
    [("AbCdEf12_3-", "AbCdEf12_3-"), ("A" * 65, None), ("<html>", None), ("a b", None), (123, None)],
)
def test_only_a_trace_id_shaped_like_metas_is_kept(value, kept):
    # GIVEN an answer's fbtrace_id / WHEN read / THEN kept only when it is a short token
    assert trace_id(value) == kept
