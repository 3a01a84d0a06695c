#!/usr/bin/env bash
# Sets up a Debian 12 host, builds the embedded test guest (cached), builds everything and runs
# every test project — unit and integration, against real QEMU. Ends with one line:
#   N passed, N failed, N skipped
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
VIRT_GUEST_DIR=$(bash scripts/build-guest.sh | tail -1)
VIRT_QEMU10_DIR=$(bash scripts/setup-qemu10.sh | tail -1)   # the QEMU 10.0 smoke lane
export VIRT_GUEST_DIR VIRT_QEMU10_DIR

dotnet build Virt.sln -nologo -v quiet -clp:ErrorsOnly
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test --solution Virt.sln --no-build 2>&1 | tee "$log" || status=$?

total=$(awk '/^ *total:/ {print $2}' "$log" | tail -1)
failed=$(awk '/^ *failed:/ {print $2}' "$log" | tail -1)
passed=$(awk '/^ *succeeded:/ {print $2}' "$log" | tail -1)
skipped=$(awk '/^ *skipped:/ {print $2}' "$log" | tail -1)
if [ -z "$total" ]; then
  echo "test.sh: the test run printed no summary" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "$status" -ne 0 ] || [ "${failed:-0}" -ne 0 ] || [ "${total:-0}" -eq 0 ]; then
  exit 1
fi
