"""Capacity in force: from config/resources.json, or what this host has where the config says "auto"."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger("pas.resource_manager")

# Stored amounts are integers in these units, so every check in Redis is exact.
SCALE = {"cpu": 1000, "mem_mb": 1, "gpu": 1, "gpu_mem_mb": 1, "disk_gb": 1000}
RESOURCES = tuple(SCALE)


def to_units(resource: str, amount: float) -> int:
    return round(amount * SCALE[resource])


def from_units(resource: str, units: int) -> int | float:
    value = units / SCALE[resource]
    return int(value) if value == int(value) else round(value, 3)


@dataclass(frozen=True)
class ResourceConfig:
    capacity: dict[str, float]
    detected: dict[str, float]
    port_min: int
    port_max: int
    role_limits: dict[str, int]


def detect(disk_path: Path) -> dict[str, float]:
    """What this host has (psutil; pynvml when an NVIDIA driver is present, else 0 GPUs — never an error)."""
    found: dict[str, float] = {
        "cpu": float(psutil.cpu_count(logical=True) or 1),
        "mem_mb": float(psutil.virtual_memory().total // (1024 * 1024)),
        "disk_gb": round(shutil.disk_usage(disk_path if disk_path.exists() else Path("/")).total / 1e9, 3),
        "gpu": 0.0,
        "gpu_mem_mb": 0.0,
    }
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
            found["gpu"] = float(count)
            found["gpu_mem_mb"] = float(
                sum(
                    pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i)).total // (1024 * 1024)
                    for i in range(count)
                )
            )
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # no library, no driver, no device: 0 GPUs
        log.debug("gpu_detection_unavailable", extra={"error": type(exc).__name__})
    return found


def load_config(path: Path, disk_path: Path) -> ResourceConfig:
    raw: dict[str, Any] = json.loads(path.read_text())
    detected = detect(disk_path)
    capacity = {
        name: detected[name] if raw["capacity"].get(name, "auto") == "auto" else float(raw["capacity"][name])
        for name in RESOURCES
    }
    ports = raw.get("ports", {})
    return ResourceConfig(
        capacity=capacity,
        detected=detected,
        port_min=int(ports.get("min", 20000)),
        port_max=int(ports.get("max", 29999)),
        role_limits={str(k): int(v) for k, v in raw.get("role_limits", {}).items()},
    )


def host_metrics() -> dict[str, float | int]:
    """The host right now, for the HMI (cpu_percent is since the previous call: non-blocking)."""
    vm = psutil.virtual_memory()
    return {
        "cpus": psutil.cpu_count(logical=True) or 1,
        "cpu_percent": float(psutil.cpu_percent(interval=None)),
        "mem_percent": float(vm.percent),
        "mem_used_mb": int((vm.total - vm.available) // (1024 * 1024)),
        "mem_total_mb": int(vm.total // (1024 * 1024)),
        "load_1m": round(os.getloadavg()[0], 2),
    }
