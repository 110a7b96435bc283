"""One composition root per function: settings → dependencies (built once, cached) → one call → response."""
