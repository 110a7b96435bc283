"""Meta Conversions API: variant tables, mapping, request building."""
