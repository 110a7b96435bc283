"""The collector: Segment's HTTP Tracking API in front of the events queue (DESIGN §1, §3).

`app.handle` answers one API Gateway HTTP API (payload v2) request: the write key resolves to a source,
each event is validated and enriched with the identity signals only the server sees (client IP, user
agent, first-party `_fbp` / `_fbc` / `_df_aid` cookies), queued one event per message, and an identify's
traits are hashed into the visitor's profile. `GET /v1/df.js` serves the browser tag.
"""
