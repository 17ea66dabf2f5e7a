"""The agent's memory of events: a bounded ring with sequence numbers for resume.

May import: ``obsview.common``, the foundation modules and ``ingest``.
"""
