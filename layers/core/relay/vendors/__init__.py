"""Vendor modules, selected by an integration's `vendor`; only `meta_capi` exists."""
