using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines;

/// <summary>Golden tests of the argv: exact arrays for a set of specs and two QEMU versions.</summary>
public sealed class QemuCommandLineTests
{
    private static readonly QemuCapabilities Qemu72 = new("/usr/bin/qemu-system-x86_64", new Version(7, 2, 22), new HashSet<string> { "q35", "pc", "microvm" }, new HashSet<string> { "kvm", "tcg" });
    private static readonly QemuCapabilities Qemu100 = Qemu72 with { Version = new Version(10, 0, 2) };

    [Fact]
    public void The_test_guest_spec_becomes_this_argv()
    {
        var spec = new VmSpec("guest1")
        {
            Firmware = new VmFirmware { Kind = VmFirmwareKind.DirectKernel, BiosPath = "/usr/share/qemu/qboot.rom", KernelPath = "/g/vmlinux", InitrdPath = "/g/initramfs.gz", KernelCommandLine = "console=ttyS0 panic=-1" },
        };

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(Qemu72, "tcg", "/var/lib/virt/vms/guest1"));

        Assert.Equal(
            [
                "-name", "guest=guest1,debug-threads=on", "-nodefaults", "-no-user-config", "-S",
                "-chardev", "socket,id=virt-qmp,fd=3,server=on,wait=off", "-mon", "chardev=virt-qmp,mode=control",
                "-chardev", "socket,id=virt-qmp-control,fd=4,server=on,wait=off", "-mon", "chardev=virt-qmp-control,mode=control",
                "-machine", "q35", "-accel", "tcg", "-smp", "1,sockets=1,cores=1,threads=1", "-m", "size=256M",
                "-action", "panic=exit-failure", "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny",
                "-bios", "/usr/share/qemu/qboot.rom", "-kernel", "/g/vmlinux", "-initrd", "/g/initramfs.gz", "-append", "console=ttyS0 panic=-1",
                "-device", "pcie-root-port,id=virt-hp0,chassis=200,bus=pcie.0", "-device", "pcie-root-port,id=virt-hp1,chassis=201,bus=pcie.0",
                "-device", "pcie-root-port,id=virt-hp2,chassis=202,bus=pcie.0", "-device", "pcie-root-port,id=virt-hp3,chassis=203,bus=pcie.0",
                "-chardev", "socket,id=virt-serial0,path=/var/lib/virt/vms/guest1/serial.sock,server=on,wait=off,logfile=/var/lib/virt/vms/guest1/serial.log,logappend=on",
                "-serial", "chardev:virt-serial0", "-display", "none",
                "-object", "rng-random,id=virt-rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=virt-rng0,id=virt-rng0",
                "-chardev", "socket,id=virt-qga0,path=/var/lib/virt/vms/guest1/qga.sock,server=on,wait=off",
                "-device", "virtio-serial-pci,id=virt-vserial0", "-device", "virtserialport,bus=virt-vserial0.0,chardev=virt-qga0,name=org.qemu.guest_agent.0",
                "-device", "pvpanic,id=virt-panic0",
            ],
            argv);
    }

    [Fact]
    public void A_full_server_spec_becomes_this_argv()
    {
        var spec = new VmSpec("db")
        {
            Cpu = new VmCpu { Model = "max", Sockets = 1, Cores = 4, Threads = 2 },
            Memory = new VmMemory { SizeMiB = 2048, MaxSizeMiB = 8192, HotplugSlots = 2 },
            Firmware = new VmFirmware { Kind = VmFirmwareKind.Ovmf },
            Disks =
            [
                new VmDisk("root", "/img/db.qcow2") { BootIndex = 0 },
                new VmDisk("data", "/img/data.raw") { Format = VmDiskFormat.Raw, Bus = VmDiskBus.VirtioScsi, Cache = VmDiskCache.Writeback },
                new VmDisk("legacy", "/img/legacy.raw") { Format = VmDiskFormat.Raw, Bus = VmDiskBus.Sata, Cache = VmDiskCache.Unsafe },
            ],
            Cdroms = [new VmCdrom("iso", "/iso/install.iso") { BootIndex = 1 }],
            Nics = [new VmNic("lan") { Backend = VmNicBackend.Bridge, Bridge = "vmbr0", MacAddress = "52:54:00:aa:bb:cc" }, new VmNic("mgmt") { Model = VmNicModel.E1000e }],
            SerialConsole = false,
            Vnc = new VmVnc { UnixSocket = false, Display = 3, WebSocketPort = 5703 },
            Rng = false,
            Balloon = true,
            GuestAgent = false,
            PanicDevice = false,
            HotplugPorts = 1,
            ExtraArguments = ["-global", "kvm-pit.lost_tick_policy=delay"],
        };

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(Qemu100, "kvm", "/s/db") { RunAsUser = "virt", DataDirectory = "/opt/qemu10/usr/share/qemu" });

        Assert.Equal(
            [
                "-L", "/opt/qemu10/usr/share/qemu",
                "-name", "guest=db,debug-threads=on", "-nodefaults", "-no-user-config", "-S",
                "-chardev", "socket,id=virt-qmp,fd=3,server=on,wait=off", "-mon", "chardev=virt-qmp,mode=control",
                "-chardev", "socket,id=virt-qmp-control,fd=4,server=on,wait=off", "-mon", "chardev=virt-qmp-control,mode=control",
                "-machine", "q35,pflash0=virt-ovmf-code,pflash1=virt-ovmf-vars", "-accel", "kvm", "-cpu", "max",
                "-smp", "8,sockets=1,cores=4,threads=2", "-m", "size=2048M,slots=2,maxmem=8192M",
                "-action", "panic=exit-failure", "-sandbox", "on,obsolete=deny,spawn=deny", "-run-with", "user=virt",
                "-blockdev", "driver=file,node-name=virt-ovmf-code,filename=/usr/share/OVMF/OVMF_CODE_4M.fd,read-only=on",
                "-blockdev", "driver=file,node-name=virt-ovmf-vars,filename=/s/db/OVMF_VARS.fd",
                "-device", "pcie-root-port,id=virt-hp0,chassis=200,bus=pcie.0",
                "-device", "virtio-scsi-pci,id=virt-scsi0",
                "-blockdev", "driver=file,node-name=virt-file-root,filename=/img/db.qcow2,cache.direct=on,cache.no-flush=off",
                "-blockdev", "driver=qcow2,node-name=root,file=virt-file-root,cache.direct=on,cache.no-flush=off",
                "-device", "virtio-blk-pci,drive=root,id=root,write-cache=on,bootindex=0",
                "-blockdev", "driver=file,node-name=virt-file-data,filename=/img/data.raw,cache.direct=off,cache.no-flush=off",
                "-blockdev", "driver=raw,node-name=data,file=virt-file-data,cache.direct=off,cache.no-flush=off",
                "-device", "scsi-hd,bus=virt-scsi0.0,drive=data,id=data,write-cache=on",
                "-blockdev", "driver=file,node-name=virt-file-legacy,filename=/img/legacy.raw,cache.direct=off,cache.no-flush=on",
                "-blockdev", "driver=raw,node-name=legacy,file=virt-file-legacy,cache.direct=off,cache.no-flush=on",
                "-device", "ide-hd,bus=ide.0,drive=legacy,id=legacy,write-cache=on",
                "-blockdev", "driver=file,node-name=virt-file-iso,filename=/iso/install.iso,read-only=on",
                "-blockdev", "driver=raw,node-name=iso,file=virt-file-iso,read-only=on",
                "-device", "ide-cd,bus=ide.1,drive=iso,id=iso,bootindex=1",
                "-netdev", $"tap,id=virt-net-lan,ifname={MacAddresses.TapName("db", "lan")},script=no,downscript=no",
                "-device", "virtio-net-pci,netdev=virt-net-lan,id=lan,mac=52:54:00:aa:bb:cc",
                "-netdev", "user,id=virt-net-mgmt,restrict=on",
                "-device", $"e1000e,netdev=virt-net-mgmt,id=mgmt,mac={MacAddresses.Derive("db", "mgmt")}",
                "-device", "VGA,id=virt-vga", "-vnc", "127.0.0.1:3,websocket=127.0.0.1:5703",
                "-device", "virtio-balloon-pci,id=virt-balloon0",
                "-global", "kvm-pit.lost_tick_policy=delay",
            ],
            argv);
    }

    [Fact]
    public void Older_QEMU_gets_runas_and_panic_shutdown_and_microvm_gets_mmio_devices()
    {
        var qemu70 = Qemu72 with { Version = new Version(7, 0, 0) };
        var spec = new VmSpec("tiny")
        {
            Machine = VmMachineType.Microvm,
            Firmware = new VmFirmware { Kind = VmFirmwareKind.DirectKernel, KernelPath = "/k" },
            Disks = [new VmDisk("root", "/r.raw") { Format = VmDiskFormat.Raw }],
            Nics = [new VmNic("n0")],
            GuestAgent = false,
        };

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(qemu70, "tcg", "/s/tiny") { RunAsUser = "virt" });

        Assert.Contains("panic=shutdown", argv);
        Assert.Equal("virt", argv[argv.ToList().IndexOf("-runas") + 1]);
        Assert.Contains("virtio-blk-device,drive=root,id=root,write-cache=on", argv);
        Assert.Contains($"virtio-net-device,netdev=virt-net-n0,id=n0,mac={MacAddresses.Derive("tiny", "n0")}", argv);
        Assert.Contains("virtio-rng-device,rng=virt-rng0,id=virt-rng0", argv);
        Assert.DoesNotContain("pvpanic,id=virt-panic0", argv);
    }

    [Fact]
    public void A_virtio_nic_on_a_network_whose_mtu_is_not_1500_gets_host_mtu_and_the_others_are_unchanged()
    {
        var spec = new VmSpec("ovl")
        {
            Nics = [VmNic.OnNetwork("vx0", "overlay"), VmNic.OnNetwork("lan0", "lan"), VmNic.OnNetwork("old0", "overlay") with { Model = VmNicModel.E1000e }, new VmNic("user0")],
            GuestAgent = false,
        };
        var mtus = new Dictionary<string, int> { ["vx0"] = 1450, ["lan0"] = 1500, ["old0"] = 1450 };

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(Qemu100, "tcg", "/s/ovl") { NicMtus = mtus });

        Assert.Contains($"virtio-net-pci,netdev=virt-net-vx0,id=vx0,mac={MacAddresses.Derive("ovl", "vx0")},host_mtu=1450", argv);
        Assert.Contains($"virtio-net-pci,netdev=virt-net-lan0,id=lan0,mac={MacAddresses.Derive("ovl", "lan0")}", argv);
        Assert.Contains($"e1000e,netdev=virt-net-old0,id=old0,mac={MacAddresses.Derive("ovl", "old0")}", argv); // e1000e has no host_mtu
        Assert.Contains($"virtio-net-pci,netdev=virt-net-user0,id=user0,mac={MacAddresses.Derive("ovl", "user0")}", argv);
        Assert.Single(argv, argument => argument.Contains("host_mtu", StringComparison.Ordinal));
    }

    [Fact]
    public void Commas_in_paths_are_doubled_so_they_cannot_inject_options()
    {
        var spec = new VmSpec("comma")
        {
            Disks = [new VmDisk("root", "/img/a,b=c.qcow2"), new VmDisk("evil", "/img/x.qcow2,file.driver=host_device,file.filename=/dev/sda")],
        };

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(Qemu72, "tcg", "/s/with,comma"));

        Assert.Contains("driver=file,node-name=virt-file-root,filename=/img/a,,b=c.qcow2,cache.direct=on,cache.no-flush=off", argv);
        var evil = argv.Single(a => a.StartsWith("driver=file,node-name=virt-file-evil", StringComparison.Ordinal));
        Assert.Equal("driver=file,node-name=virt-file-evil,filename=/img/x.qcow2,,file.driver=host_device,,file.filename=/dev/sda,cache.direct=on,cache.no-flush=off", evil);
        Assert.Contains(argv, a => a.Contains("path=/s/with,,comma/serial.sock", StringComparison.Ordinal));
    }

    [Fact]
    public void Control_characters_in_paths_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => QemuOptionValue.Escape("/img/a\nb", "disk 'root' path"));

        Assert.Contains("disk 'root' path", error.Message, StringComparison.Ordinal);
        Assert.Contains("control character", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MAC_addresses_and_tap_names_are_stable_and_valid()
    {
        Assert.Equal(MacAddresses.Derive("vm", "lan"), MacAddresses.Derive("vm", "lan"));
        Assert.NotEqual(MacAddresses.Derive("vm", "lan"), MacAddresses.Derive("vm", "wan"));
        Assert.Matches("^52:54:00(:[0-9a-f]{2}){3}$", MacAddresses.Derive("vm", "lan"));
        Assert.Matches("^vt[0-9a-f]{10}$", MacAddresses.TapName("a-very-long-vm-name-that-would-not-fit", "lan"));
    }
}
