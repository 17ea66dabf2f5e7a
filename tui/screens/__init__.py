"""The console's screens: the dashboard, and what a key opens over it (event detail, a
trace's waterfall, traces, per-route latency, history, help, the alert prompts).

May import: the console's modules and its widgets; a screen composes widgets and hands them
the figures to draw.
"""
