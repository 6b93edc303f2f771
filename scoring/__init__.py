"""Scoring: rules, the pure engine, live and bulk re-scoring, the simulator."""
