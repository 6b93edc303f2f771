"""Handoff: the MQL policy, lifecycle stages, assignment, SLA, queue actions, webhooks."""
