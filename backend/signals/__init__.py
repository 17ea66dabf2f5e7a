"""Signals derived from events and probes: request metrics, latency histograms, route
templates, host gauges, health probes, alert rules and their persisted state.

May import: ``obsview.common``, the foundation modules, ``ingest`` (redaction) and ``store``.
Never delivery or serving.
"""
