"""Benchmarks (`make bench`): measure on a dedicated database and write docs/benchmarks.md."""
