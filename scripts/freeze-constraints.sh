#!/usr/bin/env bash
# Rewrite constraints.txt from .venv, after the full suite passed on what is installed there.
set -euo pipefail
cd "$(dirname "$0")/.."
header=$(grep '^#' constraints.txt)
{ echo "$header"; .venv/bin/python -m pip freeze --exclude-editable | grep -v '^rtc=='; } > constraints.txt.new
mv constraints.txt.new constraints.txt
