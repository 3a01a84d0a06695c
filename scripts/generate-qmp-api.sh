#!/usr/bin/env bash
# Regenerates the typed QMP API (src/Virt.Kvm/Qmp/Generated) from the schemas in schemas/qmp.
# After a QEMU update: scripts/capture-qmp-schemas.sh, then this, then scripts/update-public-api.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build tools/QmpCodegen -nologo -v quiet -clp:ErrorsOnly
dotnet run --no-build --project tools/QmpCodegen -- schemas/qmp src/Virt.Kvm/Qmp/Generated "$@"
