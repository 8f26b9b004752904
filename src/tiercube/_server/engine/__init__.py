"""The in-memory analytics engine: pure pyarrow, no HTTP in sight."""
