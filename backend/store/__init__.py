"""The agent's memory of events: the bounded RAM ring with sequence numbers for resume
(``ring``) and its queries (``query``); the journal on disk (``journal``, ``journal_codec``,
``journal_writer``, ``journal_query``) and the view over both (``history``); the states and
metric minutes recorded beside the events (``recorder``); the spans of traces (``traces``).

May import: ``obsview.common``, the foundation modules and ``ingest``.
"""
