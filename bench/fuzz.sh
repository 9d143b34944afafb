#!/usr/bin/env bash
# The long OpenAPI fuzz: Schemathesis over a private PAS (gunicorn + gevent, worker, beat), open and with a token,
# every phase and check. Runs from a clone after `make install`. Extra flags go to bench/fuzz.py (--max-examples N,
# --mode open|token|both).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/fuzz.py "$@"
