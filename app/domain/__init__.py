"""Plain-Python domain: no Flask, no Celery (enforced by import-linter)."""
