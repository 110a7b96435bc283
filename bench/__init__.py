"""`make bench`: benchmarks run side by side with their references (never part of `make test`)."""
