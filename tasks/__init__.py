"""Thin Celery tasks named "pas.<service>.<verb>": one domain call each, no logic."""
