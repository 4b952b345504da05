"""Load benchmarks of sparkify on DuckDB and PostgreSQL (``python -m benchmarks.run``).

See ``benchmarks/README.md`` for the command, what it measures and how to read it.
"""
