"""Metrics, traces and logs: what an operator sees of a running orchestrator."""
