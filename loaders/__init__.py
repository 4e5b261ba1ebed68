"""Ingestion: raw extract schema, FAQ rules, synthetic generator, DDL and atomic loads."""
