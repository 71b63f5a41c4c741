#!/usr/bin/env bash
# Build the VS Code extension: rtc-VERSION.vsix in editors/vscode/.
# Installs the npm packages package-lock.json pins (node_modules/ stays out of git),
# tests the TextMate grammar, checks that the bundled YAML schema is rtc's current one
# (when rtc can be run), and packages with vsce. Needs node and npm, and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
npm run --silent test:grammar
python=${RTC_PYTHON:-../../.venv/bin/python}
if [ -x "$python" ]; then
  "$python" -m rtc schema --format yaml-source | diff -u schemas/rtc-yaml.schema.json - \
    || { echo "package.sh: schemas/rtc-yaml.schema.json is stale; run: rtc schema --format yaml-source -o editors/vscode/schemas/rtc-yaml.schema.json" >&2; exit 1; }
fi
version=$(node -p 'require("./package.json").version')
npx --yes @vscode/vsce@4.1.0 package --skip-license --allow-missing-repository --out "rtc-$version.vsix"
echo "built editors/vscode/rtc-$version.vsix"
