"""candidate-followup: the follow-up engine for recruiting ops (plain Python core, no Prefect)."""

__version__ = "0.1.0"
