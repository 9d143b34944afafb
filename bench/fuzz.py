"""Schemathesis 4 over a private PAS's /openapi.json, longer than `make test` runs it: every phase (examples,
coverage, fuzzing, stateful), every check, the seed in schemathesis.toml, `--max-examples` per operation (100 by
default), once open and once with PAS_API_TOKEN set (the token supplied). PAS runs as in production (gunicorn +
gevent, Celery worker and beat, embedded Valkey; bench/_stack.py). Prints one summary line per mode; exits 1 when
any check failed (the full report is in the printed directory)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from _stack import BIN, ROOT, Stack

TOKEN = "bench-fuzz-token-7d41"


def run(mode: str, max_examples: int, out_dir: Path) -> tuple[int, str]:
    token = TOKEN if mode == "token" else None
    env = {"PAS_SUMMARIZE_WAIT_S": "5", "PAS_UPSTREAM_ALLOWLIST": "127.0.0.1:9"}
    if token:
        env["PAS_API_TOKEN"] = token
    with Stack(**env) as stack:
        cmd = [str(BIN / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml"), "--no-color", "run",
               stack.url(6100, "/openapi.json"), "--max-examples", str(max_examples),
               "--phases", "examples,coverage,fuzzing,stateful",
               "--report", "junit,ndjson", "--report-dir", str(out_dir / mode)]  # fmt: skip
        if token:
            cmd += ["--header", f"Authorization: Bearer {token}"]
        started = time.monotonic()
        result = subprocess.run(cmd, cwd=ROOT, env={**stack.env}, capture_output=True, text=True, check=False)
        took = time.monotonic() - started
    (out_dir / f"{mode}.txt").write_text(result.stdout + result.stderr)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    cases = re.search(r"\n\s+(\d+ generated[^\n]*)", result.stdout)
    failures = re.findall(r"❌ (ST\d+ [^:\n]+): (\d+)", result.stdout)
    errors = re.findall(r"🚫 ([^:\n]+): (\d+)", result.stdout)
    line = (f"{mode:6} exit {result.returncode}  {took:6.1f} s  operations {tested.group(1) if tested else '?'}  "
            f"{cases.group(1) if cases else 'no cases'}")  # fmt: skip
    for name, count in failures + errors:
        line += f"\n         {count} x {name}"
    return result.returncode, line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation and phase (100)")
    parser.add_argument("--mode", choices=["open", "token", "both"], default="both")
    args = parser.parse_args()
    out_dir = ROOT / "artifacts" / "fuzz"
    out_dir.mkdir(parents=True, exist_ok=True)
    modes = ["open", "token"] if args.mode == "both" else [args.mode]
    print(f"schemathesis over /openapi.json, --max-examples {args.max_examples}, all phases, all checks")
    worst = 0
    for mode in modes:
        rc, line = run(mode, args.max_examples, out_dir)
        print(line, flush=True)
        worst = max(worst, rc)
    print(f"reports: {out_dir}/<mode>.txt, {out_dir}/<mode>/ (JUnit, NDJSON)")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
