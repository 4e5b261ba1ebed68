"""Crosstrack: anonymized criminal-justice custody statistics on ClickHouse."""

__version__ = "0.1.0"
