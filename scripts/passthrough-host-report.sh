#!/usr/bin/env bash
# Read-only report of a host's PCI devices, IOMMU groups and passthrough readiness, as Virt.Passthrough
# sees them, checked against lspci and timed against it. It writes nothing to sysfs.
# Usage: scripts/passthrough-host-report.sh [PROBE_DIR]   (PROBE_DIR: a self-contained publish of
# tests/Virt.Passthrough.Probe, optionally with lspci, libpci.so.3 and pci.ids beside it)
set -uo pipefail
dir=${1:-.probe}
probe="$dir/Virt.Passthrough.Probe"
lspci=$(command -v lspci || true)
ids=/usr/share/misc/pci.ids
if [[ -x "$dir/lspci" ]]; then lspci="$dir/lspci"; export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
if [[ -f "$dir/pci.ids" ]]; then ids="$dir/pci.ids"; fi
export VIRT_PCI_IDS=$ids
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "## host"; uname -a; grep -m1 "model name" /proc/cpuinfo; cat /proc/cmdline
echo "## nvidia-smi -L"; nvidia-smi -L 2>&1 | head -8
echo "## Virt.Passthrough report"; "$probe" report | tee "$work/probe.txt"
gpus=$(awk '/^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:/ && substr($2,1,2) == "03" {print $1}' "$work/probe.txt")
if [[ -n "$gpus" ]]; then echo "## Virt.Passthrough plan for the display devices (read-only)"; "$probe" plan $gpus; fi
if [[ -z "$lspci" ]]; then echo "## no lspci here: comparison skipped"; exit 0; fi
echo "## compare with lspci -D -n (address, class, vendor:device)"
awk '/^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:/ {print $1, substr($2,1,4), $3}' "$work/probe.txt" | sort >"$work/probe.ids"
"$lspci" -i "$ids" -D -n | awk '{sub(":","",$2); print $1, $2, $3}' | sort >"$work/lspci.ids"
if diff "$work/lspci.ids" "$work/probe.ids"; then echo "agree: $(wc -l <"$work/lspci.ids") devices"; else echo "DIFFER"; fi
echo "## timing: in-process enumeration vs lspci -D -nn"
"$probe" bench 50
times=()
for _ in $(seq 20); do
  start=$(date +%s%N); "$lspci" -i "$ids" -D -nn >/dev/null; end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "lspci -D -nn median=%.2f ms over %d\n", a[int((NR+1)/2)]/1000, NR}'
