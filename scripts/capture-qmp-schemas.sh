#!/usr/bin/env bash
# Captures query-qmp-schema from the system's QEMU (7.2 on Debian 12) and from QEMU 10.0
# (bookworm-backports, unpacked by setup-qemu10.sh) into schemas/qmp/. Re-run after a QEMU update.
set -euo pipefail
cd "$(dirname "$0")/.."
qemu10=$(bash scripts/setup-qemu10.sh | tail -1)
dotnet build tools/QmpSchemaCapture -nologo -v quiet -clp:ErrorsOnly
dotnet run --no-build --project tools/QmpSchemaCapture -- /usr/bin/qemu-system-x86_64 schemas/qmp
dotnet run --no-build --project tools/QmpSchemaCapture -- "$qemu10/usr/bin/qemu-system-x86_64" schemas/qmp "$qemu10/usr/share/qemu"
