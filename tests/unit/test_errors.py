"""Classification of Meta's answers by code / subcode / is_transient (never by `type`)."""

from __future__ import annotations

import pytest

from relay.outbound import ErrorKind
from relay.vendors.meta_capi.errors import classify, network_error


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
        (429, None, ErrorKind.RETRY),
        (502, "<html>bad gateway</html>", ErrorKind.RETRY),
        (400, body(99999), ErrorKind.RETRY),
        *[(400, body(c), ErrorKind.AUTH) for c in (190, 102, 10, 3, 200, 270, 299, 2635)],
        (400, body(190, 463), ErrorKind.AUTH),
        (400, body(100, 33), ErrorKind.AUTH),
        (400, body(100, 2804050), ErrorKind.INVALID),
        (400, body(100, 2804003, type_="GraphMethodException"), ErrorKind.INVALID),
        (400, None, ErrorKind.INVALID),
    ],
)
def test_classification(status, doc, kind):
    # GIVEN a non-2xx answer
    # WHEN classified
    error = classify(status, doc)
    # THEN the kind follows code / subcode / is_transient / HTTP status, never the `type`
    assert error.kind is kind
    assert error.retryable is (kind is ErrorKind.RETRY)


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
