"""Prefect tasks: thin wrappers over followup/, one task per chunk of work, never per row."""
