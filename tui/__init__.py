"""obsview's console: a Textual dashboard connected to an agent over one websocket.

Owns the connection (``client``, ``ssh_tunnel``, ``targets``; ``fleet*`` for several agents),
the event buffer and its filters (``model``), the one safe-render path for untrusted text
(``render``), incident files (``incident``, ``export``, ``replay``) and the app (``app``,
``cli``); ``widgets/`` and ``screens/`` hold the UI.

May import: ``obsview.common`` (the wire protocol and what both sides share) and the
console's libraries. Never ``obsview.backend``: the console works with any agent it can
reach, here or over SSH (``tests/test_layout.py``). One module is the exception, and says so:
``embedded`` starts an agent in the console's own process when none is running (``obsview``
with no agent, ``obsview demo``), importing it only then.
"""
