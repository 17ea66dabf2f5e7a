"""obsview's benchmarks: each module's ``run(quick)`` returns figures with a same-run baseline.

Run them all with ``uv run python -m benchmarks [--quick]``. Not collected by pytest.
"""
