"""Audits: the record replayed, archived, sealed and re-checked against every rule."""
