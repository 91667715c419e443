"""votectl: run, load-test, deploy and operate the vote-ingestion pipeline."""

__version__ = "0.1.0"
