"""Segment-compatible ingestion: parse and validate messages, resolve identity, store events."""
