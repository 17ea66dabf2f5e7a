"""What the agent and the console share, and nothing else.

``protocol`` is the wire format both sides speak; ``filters`` the filter language both
evaluate (the console over its buffer, the agent over its store for a query); ``trace_match``
what belongs to a trace; ``gc_schedule`` is the garbage-collection regime both processes run
(the demo runs them in one process, so they must share it).
``atomic_file`` writes a file whole or not at all (the agent's state, the console's settings
and incident files). ``iso_time``, ``backoff`` and ``http_methods`` are the one time format, backoff rule and method
list of every part, the instrument's included (standard library only).

May import: the standard library, orjson and msgspec. Never ``obsview.backend`` or
``obsview.tui``: the console depends on this package alone (``tests/test_layout.py``).
"""
