#!/usr/bin/env bash
# Bundles the panel's browser code from npm packages (package-lock.json pins them) into ../wwwroot/assets.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
