#!/usr/bin/env bash
# Builds Virt's embedded default test guest from Debian's packages alone: an uncompressed
# Linux kernel (vmlinux, booted through qboot's PVH entry, the fastest boot under TCG) and a
# busybox initramfs with qemu-ga. The result is cached and reused while its inputs are unchanged.
#
#   scripts/build-guest.sh            # prints the guest directory on its last line
#   VIRT_GUEST_DIR=/some/dir scripts/build-guest.sh
#
# Output: $VIRT_GUEST_DIR/{vmlinux,vmlinuz,initramfs.gz,kernel-release,stamp}
# (vmlinuz, the EFI-stub bzImage, is what OVMF boots; qboot boots vmlinux faster.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${VIRT_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virt/guest}
mkdir -p "$out"

log() { echo "build-guest: $*" >&2; }

for tool in apt-get dpkg-deb cpio gzip xz depmod modprobe busybox; do
  command -v "$tool" >/dev/null || { log "missing '$tool': run scripts/setup-host.sh first"; exit 1; }
done
busybox_bin=/bin/busybox
[ -x "$busybox_bin" ] && [ "$("$busybox_bin" --list | grep -cx acpid)" = 1 ] || { log "busybox-static is required: run scripts/setup-host.sh"; exit 1; }

# The kernel package the meta package points at today.
meta_depends=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$meta_depends" ]; then
  log "apt-cache knows no linux-image-amd64: running apt-get update"
  apt-get update -qq
  meta_depends=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
kernel_pkg=$meta_depends
kernel_pkg_version=$(apt-cache policy "$kernel_pkg" | awk '/Candidate:/ {print $2}')
qga_version=$(apt-cache policy qemu-guest-agent | awk '/Candidate:/ {print $2}')

inputs_hash=$( { echo "$kernel_pkg $kernel_pkg_version qga $qga_version"; "$busybox_bin" 2>&1 | head -1;
                cat "$0" "$here"/guest/*; } | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$inputs_hash" ] \
   && [ -s "$out/vmlinux" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.gz" ]; then
  log "cached guest is current ($inputs_hash)"
  echo "$out"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

log "downloading $kernel_pkg ($kernel_pkg_version) and qemu-guest-agent ($qga_version) from Debian"
apt-get download -q "$kernel_pkg" qemu-guest-agent >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get download -q "$kernel_pkg" qemu-guest-agent >/dev/null; }
mkdir kernel qga
dpkg-deb -x "$kernel_pkg"_*.deb kernel
dpkg-deb -x qemu-guest-agent_*.deb qga
kver=$(ls kernel/lib/modules)

# vmlinuz -> vmlinux: the payload is xz; decompress from its magic (FD 37 7A 58 5A 00).
vmlinuz=kernel/boot/vmlinuz-$kver
offset=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$vmlinuz" | head -1 | cut -d: -f1)
[ -n "$offset" ] || { log "no xz payload in $vmlinuz"; exit 1; }
# Through a file, not a pipe: xz stops at the end of the stream and tail would die of SIGPIPE.
tail -c +"$((offset + 1))" "$vmlinuz" > payload.xz
xz -dc --single-stream payload.xz > vmlinux
[ "$(head -c 4 vmlinux | od -An -tx1 | tr -d ' ')" = "7f454c46" ] || { log "extracted kernel is not ELF"; exit 1; }

log "assembling the initramfs for kernel $kver"
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/virt,etc/acpi/PWRF,proc,sys,dev,run,tmp,var/run,lib/modules}
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/guest/init" "$root/init"
install -m 0755 "$here/guest/shutdown" "$root/sbin/shutdown"
install -m 0755 "$here/guest/power-button" "$root/etc/acpi/PWRF/00000080"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# Kernel modules with their dependencies, in load order: the boot set, loaded by /init from modules.order, and sets
# a test loads when it needs them (`load-modules NAME` reads modules.NAME), which cost the other guests no boot time.
# netfilter is Virt.Network's in-guest firewall test: nf_tables with conntrack, NAT masquerade and reject, the bridge
# family's meta, reject and conntrack, and br_netfilter handing bridged IP to the inet hooks. The test loads them
# from the initramfs because the chroot of the host's root it then runs in has no modules for this kernel.
depmod -b kernel "$kver"
boot_modules="virtio_pci virtio_blk virtio_scsi sd_mod sr_mod isofs virtio_net virtio_console virtio_rng
         virtio_balloon 9pnet_virtio 9p ext4 ahci pvpanic-mmio pvpanic-pci button evdev qemu_fw_cfg vfio vfio_iommu_type1 vfio-pci e1000e
         bridge 8021q veth"
netfilter_modules="nf_tables nft_ct nft_chain_nat nft_masq nft_reject_inet nft_meta_bridge nft_reject_bridge br_netfilter nf_conntrack_bridge"
# watchdog is Virt.Cluster's watchdog-device test: QEMU's emulated Intel 6300ESB timer (-device i6300esb).
watchdog_modules="i6300esb"

# Copies MODULES and their dependencies into the initramfs and lists them in /etc/virt/LIST, leaving out what an
# earlier list (already loaded) has.
add_modules() {
  list=$1; shift
  : > "$root/etc/virt/$list"
  for m in "$@"; do
    modprobe -d kernel -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r path; do
    rel=${path#"$work/kernel"}
    [ -e "$root$rel" ] && continue
    mkdir -p "$root$(dirname "$rel")"
    cp "$path" "$root$rel"
    echo "$rel" >> "$root/etc/virt/$list"
  done
}
# shellcheck disable=SC2086 # the lists are words
add_modules modules.order $boot_modules
# shellcheck disable=SC2086
add_modules modules.netfilter $netfilter_modules
# shellcheck disable=SC2086
add_modules modules.watchdog $watchdog_modules
install -m 0755 "$here/guest/load-modules" "$root/sbin/load-modules"

# qemu-ga with the shared libraries it links (taken from this Debian 12 host).
install -m 0755 qga/usr/sbin/qemu-ga "$root/usr/sbin/qemu-ga"
ldd qga/usr/sbin/qemu-ga | awk '/=>/ {print $3} /^\s*\/lib/ {print $1}' | while read -r lib; do
  [ -f "$lib" ] || continue
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
mkdir -p "$root/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9 > initramfs.gz

mv vmlinux "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv initramfs.gz "$out/initramfs.gz.tmp" && mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
echo "$kver" > "$out/kernel-release"
echo "$inputs_hash" > "$out/stamp"
log "guest ready in $out (kernel $kver, initramfs $(du -h "$out/initramfs.gz" | cut -f1))"
echo "$out"
