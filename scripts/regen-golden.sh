#!/usr/bin/env bash
# Rewrite the compiler's golden IR files and the expectations of tests/invalid/ (review the diff!).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python tests/compiler/compiler_cases.py "$@"
