"""The query runtime: tasks that read the log, run plans on DuckDB, and commit exactly once."""
