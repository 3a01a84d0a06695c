#!/usr/bin/env bash
# Sets up a Debian 12 host, builds the embedded test guest (cached) and runs the demo: it boots the
# guest through the SDK and prints what the QMP and guest-agent clients see.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
guest=$(bash scripts/build-guest.sh | tail -1)
dotnet run --project samples/QuickStart -c Release -- "$guest"
echo
dotnet run --project samples/Virt.Demo -c Release -- "$guest"
