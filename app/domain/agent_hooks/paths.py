"""A file path a hook names is attacker-controlled input: PAS reads one only when it resolves (symlinks and
`..` included) to a file under the operator's configured root."""

from __future__ import annotations

from pathlib import Path


def allowed_file(text: str | None, root: Path | None) -> str | None:
    """The resolved path when it is a file under `root`; None otherwise (no root configured = never)."""
    if not text or root is None or "\x00" in text:
        return None
    try:
        base = root.resolve(strict=True)
        path = Path(text)
        path = (path if path.is_absolute() else base / path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, unreadable
        return None
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return str(path)
