"""What consoles and scrapers reach: the websocket stream with its per-console outbox, the
plain HTTP endpoints (``/api/health``, ``/api/metrics``, ``/api/alerts``) and Prometheus.

May import: every stage before it.
"""
