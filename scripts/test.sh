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

bash samples/Virt.Panel/ui/build.sh   # the panel's browser bundle (npm + esbuild) into its wwwroot
dotnet build Virt.sln -nologo -v quiet -clp:ErrorsOnly

# One test project at a time: the integration tests boot guests that take both cores, and the
# unit tests' deadlines should not compete with them.
passed=0 failed=0 skipped=0 total=0 status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Every test project under tests/ (helpers say <IsTestProject>false</IsTestProject>).
projects=$(find tests -name '*.csproj' | sort | xargs grep -L '<IsTestProject>false</IsTestProject>')
for project in $projects; do
  dotnet test --project "$project" --no-build 2>&1 | tee "$log" || status=$?
  t=$(awk '/^ *total:/ {print $2}' "$log" | tail -1)
  if [ -z "$t" ]; then
    echo "test.sh: $project printed no summary" >&2
    status=1
    failed=$((failed + 1))
    continue
  fi
  total=$((total + t))
  passed=$((passed + $(awk '/^ *succeeded:/ {print $2}' "$log" | tail -1)))
  failed=$((failed + $(awk '/^ *failed:/ {print $2}' "$log" | tail -1)))
  skipped=$((skipped + $(awk '/^ *skipped:/ {print $2}' "$log" | tail -1)))
done

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$total" -eq 0 ]; then
  exit 1
fi
