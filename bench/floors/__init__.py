"""Floors: the best plain code for a job the service does, run as its own process beside the service's command."""
