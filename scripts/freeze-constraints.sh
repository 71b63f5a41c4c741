#!/usr/bin/env bash
# Rewrite constraints.txt from .venv, after the full suite passed on what is installed there.
# pip freeze leaves out setuptools and wheel; their pins (the build backend of the wheel test) are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
header=$(grep '^#' constraints.txt)
backend=$(grep -i -E '^(setuptools|wheel)==' constraints.txt || true)
{ echo "$header"; .venv/bin/python -m pip freeze --exclude-editable | grep -v '^rtc=='; [ -z "$backend" ] || echo "$backend"; } > constraints.txt.new
mv constraints.txt.new constraints.txt
