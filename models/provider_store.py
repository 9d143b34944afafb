"""Providers registered through the API, in Redis (one hash), with a version counter snapshots watch."""

from __future__ import annotations

import json
from typing import Any

import redis

from models.keys import Keys
from models.stored import stored_int, stored_json


class ProviderStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def upsert(self, name: str, record: dict[str, Any]) -> bool:
        """True when new. One transaction: the record and the version move together."""
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.providers(), name, json.dumps(record, separators=(",", ":")))
        pipe.incr(self._keys.providers_version())
        created, _ = pipe.execute()
        return bool(created)

    def get(self, name: str) -> dict[str, Any] | None:
        raw: Any = self._r.hget(self._keys.providers(), name)
        value = stored_json(raw)
        return value if isinstance(value, dict) else None

    def all(self) -> dict[str, dict[str, Any]]:
        raw: Any = self._r.hgetall(self._keys.providers())
        return {str(k): v for k, v in ((k, stored_json(v)) for k, v in raw.items()) if isinstance(v, dict)}

    def version(self) -> int:
        value: Any = self._r.get(self._keys.providers_version())
        return stored_int(value)
