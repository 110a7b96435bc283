"""Relay: Segment-spec events to Meta's Conversions API, server to server."""
