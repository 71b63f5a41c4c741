#!/usr/bin/env bash
# Check the import layers of docs/architecture.md ([tool.importlinter] in pyproject.toml).
# import-linter reads a package from its folder, and rtc's subpackages live in top-level folders
# (setup.py maps them), so the package is laid out as the wheel has it in a temporary folder first,
# and checked there without the editable install's import hook (python -S).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/pkg"
cp -r rtc "$work/pkg/rtc"
for folder in dsl compiler integrations grammars; do cp -r "$folder" "$work/pkg/rtc/$folder"; done
site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cd "$work/pkg"
PYTHONPATH="$work/pkg:$site" "$repo/.venv/bin/python" -S -c \
  "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())" \
  --no-cache "$repo/pyproject.toml"
