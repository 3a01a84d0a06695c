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

# The packages as users get them, and the SDK under NativeAOT. Each of the two counts as one test:
# both boot the test guest and run a busybox container (samples/QuickStart's program).
# 1. Every library packed into artifacts/packages with a version no earlier run used (NuGet caches a
#    package by id and version, so a repack under the same version would never be seen), then
#    tests/Virt.Packages.Consumer built against those packages (its nuget.config; no project references) and run.
# 2. samples/QuickStart published NativeAOT: a trim or AOT warning is an error. Debug, so that the
#    libraries built above are reused; the trim and AOT analysis is the same as in Release.
# set -e does not reach into a function run as an if's condition: every command below says "|| return".
step() {
  local name=$1 started=$SECONDS
  shift
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "test.sh: $name passed in $((SECONDS - started)) s"
  else
    failed=$((failed + 1))
    cat "$log"
    echo "test.sh: $name FAILED after $((SECONDS - started)) s" >&2
  fi
  total=$((total + 1))
}

packages_from_a_consumer() {
  local version packages
  version=0.1.0-ci.$(date -u +%Y%m%d%H%M%S)
  packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
  rm -rf artifacts/packages "$packages"/virt.*/*-ci.*   # earlier runs' packages, here and in NuGet's cache
  for project in src/*/*.csproj; do
    # -c Debug: pack what the solution build above compiled (pack alone would look for a Release build).
    dotnet pack "$project" --no-build -c Debug -nologo -v quiet -o artifacts/packages -p:PackageVersion="$version" || return
  done
  dotnet build tests/Virt.Packages.Consumer -nologo -v quiet -clp:ErrorsOnly -p:VirtPackageVersion="$version" || return
  timeout 300 dotnet tests/Virt.Packages.Consumer/bin/Debug/net10.0/Virt.Packages.Consumer.dll "$VIRT_GUEST_DIR"
}

quickstart_native_aot() {
  rm -rf artifacts/quickstart-aot
  dotnet publish samples/QuickStart -nologo -v quiet -c Debug -r linux-x64 -o artifacts/quickstart-aot || return
  timeout 300 artifacts/quickstart-aot/QuickStart "$VIRT_GUEST_DIR"
}

step "packages from a consumer (tests/Virt.Packages.Consumer)" packages_from_a_consumer
step "samples/QuickStart published NativeAOT" quickstart_native_aot

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$total" -eq 0 ]; then
  exit 1
fi
