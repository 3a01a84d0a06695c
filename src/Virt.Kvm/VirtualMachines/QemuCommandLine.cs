using System.Globalization;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Turns a <see cref="VmSpec"/> into QEMU's argv — an array, never a shell string. The VM starts
/// paused (<c>-S</c>) with <c>-nodefaults -no-user-config</c>; disks are <c>-blockdev</c> nodes
/// with <c>-device</c> front ends; every value inside an option list is comma-escaped. The SDK's
/// own ids start with <c>virt-</c>, which user ids may not.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>The descriptor number of the QMP listening socket handed to QEMU.</summary>
    public const int MonitorDescriptor = QemuSpawner.FirstPassedDescriptor;

    /// <summary>The descriptor number of the control monitor's listening socket (see <see cref="VmFiles.ControlSocket"/>).</summary>
    internal const int ControlDescriptor = MonitorDescriptor + 1;

    /// <summary>Builds the argv (without the binary itself).</summary>
    /// <param name="spec">A validated spec.</param>
    /// <param name="context">The binary's capabilities and this launch's decisions.</param>
    /// <returns>The arguments.</returns>
    public static IReadOnlyList<string> Build(VmSpec spec, QemuLaunchContext context)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        var files = new VmFiles(context.StateDirectory);
        var args = new List<string>();
        void Add(params string[] items) => args.AddRange(items);
        string E(string value, string what) => QemuOptionValue.Escape(value, what);

        if (context.DataDirectory is not null)
        {
            Add("-L", context.DataDirectory);
        }

        Add("-name", $"guest={E(spec.Name, "VM name")},debug-threads=on");
        Add("-nodefaults", "-no-user-config", "-S");
        Add("-chardev", $"socket,id=virt-qmp,fd={MonitorDescriptor},server=on,wait=off", "-mon", "chardev=virt-qmp,mode=control");
        Add("-chardev", $"socket,id=virt-qmp-control,fd={ControlDescriptor},server=on,wait=off", "-mon", "chardev=virt-qmp-control,mode=control");

        var machine = spec.Machine switch
        {
            VmMachineType.Q35 => "q35",
            VmMachineType.Pc => "pc",
            _ => "microvm",
        };
        if (spec.Firmware.Kind == VmFirmwareKind.Ovmf)
        {
            machine += ",pflash0=virt-ovmf-code,pflash1=virt-ovmf-vars" + (spec.Firmware.SecureBoot ? ",smm=on" : string.Empty);
        }

        Add("-machine", machine, "-accel", context.Accelerator);
        if (spec.Firmware.Kind == VmFirmwareKind.Ovmf && spec.Firmware.SecureBoot)
        {
            // Only SMM code may write the variable store, so the guest cannot change the Secure Boot keys.
            Add("-global", "driver=cfi.pflash01,property=secure,value=on");
        }

        var cpuModel = spec.Cpu.Model ?? (context.Accelerator == "kvm" ? "host" : null);
        if (cpuModel is not null)
        {
            Add("-cpu", cpuModel);
        }

        var cpu = spec.Cpu;
        Add("-smp", cpu.MaxCount is { } maxCpus
            ? I($"{cpu.Count},sockets={maxCpus / (cpu.Cores * cpu.Threads)},cores={cpu.Cores},threads={cpu.Threads},maxcpus={maxCpus}")
            : I($"{cpu.Count},sockets={cpu.Sockets},cores={cpu.Cores},threads={cpu.Threads}"));
        Add("-m", spec.Memory.MaxSizeMiB is { } max
            ? I($"size={spec.Memory.SizeMiB}M,slots={spec.Memory.HotplugSlots},maxmem={max}M")
            : I($"size={spec.Memory.SizeMiB}M"));

        // A panicking guest ends QEMU, non-zero where the version allows, so it is seen as a crash.
        Add("-action", context.Capabilities.HasPanicExitFailure ? "panic=exit-failure" : "panic=shutdown");
        // seccomp: no obsolete syscalls, no fork/exec (QEMU needs neither: taps are made by the SDK), and no
        // privilege changes unless QEMU must drop to RunAsUser itself.
        Add("-sandbox", context.RunAsUser is null ? "on,obsolete=deny,elevateprivileges=deny,spawn=deny" : "on,obsolete=deny,spawn=deny");
        if (context.RunAsUser is { } user)
        {
            Add(context.Capabilities.HasRunWith ? ["-run-with", $"user={E(user, "user")}"] : ["-runas", user]);
        }

        AddFirmware(spec, files, Add);
        if (spec.Machine == VmMachineType.Q35)
        {
            // Free root ports for hotplug (q35 cannot hotplug into pcie.0); chassis numbers are the SDK's from 200.
            for (var port = 0; port < spec.HotplugPorts; port++)
            {
                Add("-device", I($"pcie-root-port,id={HotplugPortPrefix}{port},chassis={200 + port},bus=pcie.0"));
            }
        }

        var pci = spec.Machine == VmMachineType.Microvm ? "device" : "pci";
        AddDisks(spec, files, pci, context.RbdDisks, Add, E);
        AddNics(spec, pci, context.NicMtus, Add, E);
        HostDeviceArguments.Add(spec, context.HostFunctions, Add);

        if (spec.SerialConsole)
        {
            Add("-chardev", $"socket,id=virt-serial0,path={E(files.SerialSocket, "serial socket")},server=on,wait=off,logfile={E(files.SerialLog, "serial log")},logappend=on");
            Add("-serial", "chardev:virt-serial0");
        }

        if (spec.Vnc is { } vnc)
        {
            if (spec.Machine != VmMachineType.Microvm)
            {
                Add("-device", "VGA,id=virt-vga");
            }

            Add("-vnc", vnc.UnixSocket
                ? $"unix:{E(files.VncSocket, "VNC socket")}"
                : I($"127.0.0.1:{vnc.Display}") + (vnc.WebSocketPort is { } port ? I($",websocket=127.0.0.1:{port}") : string.Empty));
        }
        else
        {
            Add("-display", "none");
        }

        if (spec.Rng)
        {
            Add("-object", "rng-random,id=virt-rng0,filename=/dev/urandom", "-device", $"virtio-rng-{pci},rng=virt-rng0,id=virt-rng0");
        }

        if (spec.Balloon)
        {
            Add("-device", $"virtio-balloon-{pci},id=virt-balloon0");
        }

        if (spec.GuestAgent)
        {
            Add("-chardev", $"socket,id=virt-qga0,path={E(files.AgentSocket, "guest agent socket")},server=on,wait=off");
            Add("-device", $"virtio-serial-{pci},id=virt-vserial0", "-device", "virtserialport,bus=virt-vserial0.0,chardev=virt-qga0,name=org.qemu.guest_agent.0");
        }

        if (spec.Tpm)
        {
            Add("-chardev", $"socket,id=virt-tpm0,path={E(files.TpmSocket, "TPM socket")}", "-tpmdev", "emulator,id=virt-tpm0,chardev=virt-tpm0", "-device", "tpm-crb,tpmdev=virt-tpm0,id=virt-tpm0");
        }

        if (spec.PanicDevice && spec.Machine != VmMachineType.Microvm)
        {
            Add("-device", "pvpanic,id=virt-panic0");
        }

        args.AddRange(spec.ExtraArguments);
        return args;
    }

    private static void AddFirmware(VmSpec spec, VmFiles files, Action<string[]> add)
    {
        var firmware = spec.Firmware;
        if (firmware.BiosPath is { } bios)
        {
            add(["-bios", bios]);
        }

        switch (firmware.Kind)
        {
            case VmFirmwareKind.DirectKernel:
                AddKernel(firmware, add);
                break;
            case VmFirmwareKind.Ovmf:
                add(["-blockdev", $"driver=file,node-name=virt-ovmf-code,filename={QemuOptionValue.Escape(firmware.OvmfCodePath, "OVMF code")},read-only=on"]);
                add(["-blockdev", $"driver=file,node-name=virt-ovmf-vars,filename={QemuOptionValue.Escape(files.OvmfVars, "OVMF vars")}"]);
                if (firmware.KernelPath is not null)
                {
                    // OVMF loads an EFI-stub kernel that QEMU hands over through fw_cfg: UEFI boot without a disk.
                    AddKernel(firmware, add);
                }

                break;
        }
    }

    private static void AddKernel(VmFirmware firmware, Action<string[]> add)
    {
        add(["-kernel", firmware.KernelPath!]);
        if (firmware.InitrdPath is { } initrd)
        {
            add(["-initrd", initrd]);
        }

        if (firmware.KernelCommandLine is { } append)
        {
            add(["-append", append]);
        }
    }

    private static void AddDisks(VmSpec spec, VmFiles files, string pci, IReadOnlyDictionary<string, Virt.Storage.RbdLocation> rbdDisks, Action<string[]> add, Func<string, string, string> escape)
    {
        var sataUnit = 0;
        if (spec.Machine == VmMachineType.Pc && (spec.Disks.Any(d => d.Bus == VmDiskBus.Sata) || spec.Cdroms.Count > 0 || spec.CloudInit is not null))
        {
            add(["-device", "ich9-ahci,id=virt-ahci0"]);
        }

        var sataBus = spec.Machine == VmMachineType.Pc ? "virt-ahci0" : "ide";
        if (spec.Disks.Any(d => d.Bus == VmDiskBus.VirtioScsi))
        {
            add(["-device", $"virtio-scsi-{pci},id=virt-scsi0"]);
        }

        foreach (var disk in spec.Disks)
        {
            var (direct, noFlush, writeCache) = disk.Cache switch
            {
                VmDiskCache.None => ("on", "off", "on"),
                VmDiskCache.Writeback => ("off", "off", "on"),
                VmDiskCache.Writethrough => ("off", "off", "off"),
                VmDiskCache.DirectSync => ("on", "off", "off"),
                _ => ("off", "on", "on"),
            };
            var readOnly = disk.ReadOnly ? ",read-only=on" : string.Empty;
            var format = disk.Format == VmDiskFormat.Qcow2 ? "qcow2" : "raw";
            if (rbdDisks.TryGetValue(disk.Id, out var rbd))
            {
                // librbd inside QEMU talks to the cluster itself: no kernel mapping, no file.
                add(["-blockdev", $"driver=rbd,node-name=virt-file-{disk.Id},pool={escape(rbd.Pool, $"disk '{disk.Id}' pool")},image={escape(rbd.Image, $"disk '{disk.Id}' image")},conf={escape(rbd.ConfigPath, $"disk '{disk.Id}' ceph.conf")},user={escape(rbd.User, $"disk '{disk.Id}' Ceph user")},cache.no-flush={noFlush}{readOnly}"]);
            }
            else
            {
                add(["-blockdev", $"driver=file,node-name=virt-file-{disk.Id},filename={escape(disk.Path, $"disk '{disk.Id}' path")},cache.direct={direct},cache.no-flush={noFlush}{readOnly}"]);
            }

            add(["-blockdev", $"driver={format},node-name={disk.Id},file=virt-file-{disk.Id},cache.direct={direct},cache.no-flush={noFlush}{readOnly}"]);
            var boot = disk.BootIndex is { } index ? I($",bootindex={index}") : string.Empty;
            var front = disk.Bus switch
            {
                VmDiskBus.VirtioBlk => $"virtio-blk-{pci},drive={disk.Id},id={disk.Id},write-cache={writeCache}",
                VmDiskBus.VirtioScsi => $"scsi-hd,bus=virt-scsi0.0,drive={disk.Id},id={disk.Id},write-cache={writeCache}",
                _ => I($"ide-hd,bus={sataBus}.{sataUnit++},drive={disk.Id},id={disk.Id},write-cache={writeCache}"),
            };
            add(["-device", front + boot]);
        }

        foreach (var cdrom in spec.Cdroms)
        {
            add(["-blockdev", $"driver=file,node-name=virt-file-{cdrom.Id},filename={escape(cdrom.IsoPath, $"CD-ROM '{cdrom.Id}' image")},read-only=on"]);
            add(["-blockdev", $"driver=raw,node-name={cdrom.Id},file=virt-file-{cdrom.Id},read-only=on"]);
            var boot = cdrom.BootIndex is { } index ? I($",bootindex={index}") : string.Empty;
            add(["-device", I($"ide-cd,bus={sataBus}.{sataUnit++},drive={cdrom.Id},id={cdrom.Id}") + boot]);
        }

        if (spec.CloudInit is not null)
        {
            // The NoCloud seed (label cidata) as one more CD-ROM.
            add(["-blockdev", $"driver=file,node-name=virt-file-cidata,filename={escape(files.CloudInitSeed, "cloud-init seed")},read-only=on"]);
            add(["-blockdev", "driver=raw,node-name=virt-cidata,file=virt-file-cidata,read-only=on"]);
            add(["-device", I($"ide-cd,bus={sataBus}.{sataUnit++},drive=virt-cidata,id=virt-cidata")]);
        }
    }

    private static void AddNics(VmSpec spec, string pci, IReadOnlyDictionary<string, int> mtus, Action<string[]> add, Func<string, string, string> escape)
    {
        foreach (var nic in spec.Nics)
        {
            add(["-netdev", nic.Backend == VmNicBackend.User
                ? $"user,id=virt-net-{nic.Id},restrict=on"
                : $"tap,id=virt-net-{nic.Id},ifname={MacAddresses.TapName(spec.Name, nic.Id)},script=no,downscript=no"]);
            var mac = nic.MacAddress ?? MacAddresses.Derive(spec.Name, nic.Id);
            var model = nic.Model == VmNicModel.VirtioNet ? $"virtio-net-{pci}" : "e1000e";
            add(["-device", $"{model},netdev=virt-net-{nic.Id},id={nic.Id},mac={escape(mac, "MAC address")}{HostMtu(nic, mtus)}"]);
        }
    }

    /// <summary>
    /// <c>,host_mtu=N</c> for a virtio-net NIC whose network's MTU is not Ethernet's 1500 (virtio tells the guest's driver;
    /// e1000e has no such property); nothing otherwise, so the command line of a NIC at 1500 is unchanged.
    /// </summary>
    public static string HostMtu(VmNic nic, IReadOnlyDictionary<string, int> mtus) =>
        nic.Model == VmNicModel.VirtioNet && mtus.TryGetValue(nic.Id, out var mtu) && mtu != EthernetMtu ? I($",host_mtu={mtu}") : string.Empty;

    /// <summary>The MTU a guest's NIC has without being told otherwise.</summary>
    public const int EthernetMtu = 1500;

    /// <summary>The id prefix of the root ports reserved for hotplug: virt-hp0, virt-hp1...</summary>
    public const string HotplugPortPrefix = "virt-hp";

    private static string I(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
