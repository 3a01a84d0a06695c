using System.Globalization;
using Virt.Passthrough;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// <c>-device vfio-pci</c> arguments for a spec's host devices. Each device gets a PCIe root port of its own
/// (chassis numbers from 100, the hotplug ports use 200+) where its functions keep their numbers, function 0
/// marked multifunction when the slot has more, as a physical card would appear.
/// </summary>
internal static class HostDeviceArguments
{
    public const string PortPrefix = "virt-hostport";

    public static void Add(VmSpec spec, IReadOnlyList<PciAddress> boundFunctions, Action<string[]> add)
    {
        for (var index = 0; index < spec.HostDevices.Count; index++)
        {
            var device = spec.HostDevices[index];
            var address = PciAddress.Parse(device.Address);
            var functions = device.AllFunctions
                ? boundFunctions.Where(function => function.WithFunction(0) == address.WithFunction(0)).Distinct().OrderBy(function => function.Function).ToList()
                : [address];
            var port = device.RootPort ? string.Create(CultureInfo.InvariantCulture, $"{PortPrefix}{index}") : null;
            if (port is not null)
            {
                add(["-device", string.Create(CultureInfo.InvariantCulture, $"pcie-root-port,id={port},chassis={100 + index},bus=pcie.0")]);
            }

            foreach (var function in functions)
            {
                var options = new List<string> { "vfio-pci", $"host={function}", string.Create(CultureInfo.InvariantCulture, $"id=virt-hostdev{index}-{function.Function}") };
                if (port is not null)
                {
                    options.Add($"bus={port}");
                    options.Add(string.Create(CultureInfo.InvariantCulture, $"addr=0x0.{function.Function}"));
                    if (function.Function == 0 && functions.Count > 1)
                    {
                        options.Add("multifunction=on");
                    }
                }

                if (device.XVga && function == functions[0])
                {
                    options.Add("x-vga=on");
                }

                if (device.RomBar is { } rombar)
                {
                    options.Add(rombar ? "rombar=1" : "rombar=0");
                }

                if (device.RomFile is { } rom && function == functions[0])
                {
                    options.Add($"romfile={rom}");
                }

                add(["-device", string.Join(',', options)]);
            }
        }
    }
}
