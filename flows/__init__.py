"""Prefect flows: the schedulable entry points."""
