#!/usr/bin/env bash
# Installs what Virt's demo and tests need on a Debian 12 host. Idempotent: safe to run twice.
# Needs root (or sudo). Reaches only Debian's package registry.
set -euo pipefail

packages=(
  qemu-system-x86   # QEMU itself (qemu-system-x86_64, qboot.rom, SeaBIOS)
  qemu-utils        # qemu-img
  ovmf              # UEFI firmware for VMs that ask for it
  busybox-static    # the test guest's userland
  cpio xz-utils gzip kmod  # building the test guest's initramfs
  iproute2          # taps and bridges for bridged NICs
  swtpm swtpm-tools # software TPM 2.0 for VMs with Tpm = true
  genisoimage       # isoinfo: tests read the cloud-init seed ISO back (this host kernel has no iso9660 to loop-mount)
  lxc               # lxc-start/lxc-attach/lxc-stop for containers (Virt.Lxc), liblxc for the supported-key check
  zstd              # .tar.zst container rootfs tarballs
  uidmap            # newuidmap/newgidmap: unprivileged containers
  btrfs-progs       # btrfs storage pools (Virt.Storage)
  xfsprogs          # xfs with reflink: dir pools whose full clones share blocks (tests)
  ceph-mon ceph-mgr ceph-osd ceph-common  # a single-node Ceph for the RBD pool tests (scripts/ceph-cluster.sh)
  qemu-block-extra  # QEMU's and qemu-img's rbd driver
  pciutils pci.ids  # lspci (the passthrough tests compare sysfs with it) and the PCI names database
  chromium          # the panel's browser tests drive it with Playwright (no browser download)
  nftables          # nft and libnftables (Virt.Network's firewall and NAT, loaded in-process)
  dnsmasq-base      # DHCP and DNS of managed networks (Virt.Network supervises one per network)
  iputils-ping      # the network tests' real traffic between namespaces, guests and containers
  openssl           # the cross-host migration tests make their test CA and host certificates with it
  etcd-server etcd-client  # Virt.Cluster's store: the tests start a 3-member etcd on loopback (no service is started)
  clang zlib1g-dev  # NativeAOT: the linker driver and libz that dotnet publish -p:PublishAot links with (test.sh publishes samples/QuickStart)
)

# Node.js and npm bundle the panel's browser code (samples/Virt.Panel/ui); Debian's are enough where none is installed.
if ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-host: all packages present"
fi

# Unprivileged containers map container root to host uid/gid 100000 (65536 ids): give root that range.
for file in /etc/subuid /etc/subgid; do
  if ! grep -qE '^(root|0):100000:65536$' "$file" 2>/dev/null; then
    echo "setup-host: adding root:100000:65536 to $file"
    echo "root:100000:65536" | sudo_if_needed tee -a "$file" >/dev/null
  fi
done

if ! command -v dotnet >/dev/null 2>&1; then
  echo "setup-host: the .NET 10 SDK is required (dotnet on PATH); install it from your distribution's packages" >&2
  exit 1
fi
