"""obsview's agent: collects a service's logs, derives metrics, probes health, raises alerts.

A line passes through the stages below in this order; each package's docstring says what it
owns. A stage imports only stages before it, never after (``tests/test_layout.py``):

``ingest``    sources, normalization, record vocabularies, redaction: bytes in, events out
``store``     the bounded event buffer the stream and the API read from
``signals``   metrics, histograms, routes, host gauges, health probes, alert rules and state
``delivery``  alert notifications: channels and their outbox
``serving``   the websocket stream, the HTTP endpoints, Prometheus exposition

Beside the stages: ``errors``, ``config_tables`` (config sections read into typed tables),
``durations``, ``addresses``, ``auth``, ``connection_slots`` (bounded admission of
connections) and ``state_lock`` (one agent per state directory) are the foundation any stage
may use; ``config``, ``agent`` and ``cli`` wire the stages
together; ``instrument`` runs inside the user's own service and imports no other part of
obsview; ``demo`` is the seed's blog API with a load generator.

Nothing here imports Textual or ``obsview.tui``.
"""
