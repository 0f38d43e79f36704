"""Benchmarks: `python -m bench` runs them all, `python -m bench NAME [options]` runs one.
Each prints one JSON object per line: {"bench": ..., "value": ..., "unit": ..., ...}."""
