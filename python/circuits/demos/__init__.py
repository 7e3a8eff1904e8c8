"""Runnable demonstrations: `python -m circuits.demos.<name>`."""
