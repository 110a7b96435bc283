"""The Graph API client: one POST per GraphRequest, token in the Authorization header, explicit timeouts."""

from __future__ import annotations

import json
import time

import urllib3

from relay.outbound import Receipt
from relay.vendors.meta_capi.errors import GraphError, classify, network_error
from relay.vendors.meta_capi.limits import CONNECT_TIMEOUT_S, GRAPH_URL, READ_TIMEOUT_S
from relay.vendors.meta_capi.request import GraphRequest

POOL_SIZE = 10
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
USER_AGENT = "relay/0.1 (+https://github.com/)"


class GraphClient:
    """Sends request bodies to `{base_url}/{version}/{pixel_id}/events`; never puts the token in the URL."""

    def __init__(
        self,
        base_url: str = GRAPH_URL,
        *,
        pool: urllib3.PoolManager | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._pool = pool or urllib3.PoolManager(maxsize=POOL_SIZE, retries=False)
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)

    def send(self, request: GraphRequest, *, token: str) -> Receipt:
        """POST one request. Returns a Receipt on 2xx; raises GraphError (see `.retryable`) otherwise."""
        url = f"{self.base_url}/{request.api_version}/{request.pixel_id}/events"
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "User-Agent": USER_AGENT,
        }
        started = time.perf_counter()
        try:
            response = self._pool.request(
                "POST", url, body=request.body, headers=headers, timeout=self._timeout, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise network_error(type(exc).__name__) from None
        latency = time.perf_counter() - started
        try:
            body = json.loads(response.data) if response.data else None
        except ValueError:
            body = None
        if not 200 <= response.status < 300:
            raise classify(response.status, body)
        if not isinstance(body, dict) or not isinstance(body.get("events_received"), int):
            raise GraphError(classify(502, None).kind, response.status, message="unexpected success body")
        messages = body.get("messages") or []
        return Receipt(
            pixel_id=request.pixel_id,
            events_received=body["events_received"],
            fbtrace_id=body.get("fbtrace_id"),
            messages=tuple(str(m) for m in messages) if isinstance(messages, list) else (),
            version_warning=response.headers.get(VERSION_WARNING_HEADER),
            latency_s=latency,
        )
