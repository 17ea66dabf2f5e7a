"""The console's widgets, one per module: each draws one part of a screen from what it is
given.

May import: the console's core modules (``render``, ``model``, …) and other widgets. Never a
screen or the app, which compose them (``tests/test_layout.py``).
"""
