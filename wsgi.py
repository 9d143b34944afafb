"""The gunicorn entry: `gunicorn -c config/gunicorn.conf.py wsgi:app` (no --preload: gevent patches first)."""

from app.factory import create_app

app = create_app()
