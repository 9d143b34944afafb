from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Plain declarative base; Flask-SQLAlchemy wraps it (app/extensions.py)."""
