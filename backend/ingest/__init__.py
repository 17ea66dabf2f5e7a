"""Ingest: every source's bytes become normalized, redacted :class:`LogEvent` batches.

Owns the sources (``sources/``), the mapping of foreign records onto events
(``normalize``, ``record_fields``) and secret redaction (``redact``).

May import: ``obsview.common`` and the backend's foundation modules. Never the store,
signals, delivery or serving: a source hands its batches to a callback it is given.
"""
