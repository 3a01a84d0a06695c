using System.Globalization;
using System.IO.Abstractions;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The host's memory (MemTotal of /proc/meminfo) and online CPUs (/sys/devices/system/cpu/online),
/// and the check that a VM asks for no more than those: one VM may use up to all of the host's
/// memory and CPUs (as Proxmox allows), never more, unless <c>KvmOptions.AllowResourcesBeyondHost</c>.
/// </summary>
internal sealed record HostResources(long MemoryMiB, int Cpus)
{
    /// <summary>Reads the figures under <paramref name="root"/> ("/" on a real host) through <paramref name="fileSystem"/>.</summary>
    public static HostResources Read(IFileSystem fileSystem, string root = "/")
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        var meminfo = fileSystem.File.ReadAllLines(Path.Combine(root, "proc/meminfo"));
        var total = meminfo.FirstOrDefault(line => line.StartsWith("MemTotal:", StringComparison.Ordinal))
            ?? throw new VirtException($"'{Path.Combine(root, "proc/meminfo")}' has no MemTotal line: is /proc mounted?");
        var kib = long.Parse(total["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        var online = Path.Combine(root, "sys/devices/system/cpu/online");
        var cpus = fileSystem.File.Exists(online) ? CountCpuList(fileSystem.File.ReadAllText(online)) : Environment.ProcessorCount;
        return new HostResources(kib / 1024, cpus);
    }

    /// <summary>Counts a kernel CPU list such as <c>0-3,8,10-11</c>.</summary>
    public static int CountCpuList(string list)
    {
        var count = 0;
        foreach (var range in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            count += dash < 0 ? 1 : int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture) - int.Parse(range[..dash], CultureInfo.InvariantCulture) + 1;
        }

        return count;
    }

    /// <summary>Refuses a spec that asks for more memory or vCPUs than this host has.</summary>
    /// <exception cref="InvalidVmSpecException">It asks for more; the problems carry the host's figures and the fix.</exception>
    public void Check(VmSpec spec)
    {
        var problems = new List<VmSpecProblem>();
        const string Overcommit = "or set KvmOptions.AllowResourcesBeyondHost to allow more than the host has";
        if (spec.Memory.SizeMiB > MemoryMiB)
        {
            problems.Add(new("Memory.SizeMiB", I($"{spec.Memory.SizeMiB} MiB is more than this host's {MemoryMiB} MiB of memory (MemTotal in /proc/meminfo): lower it, {Overcommit}")));
        }

        if (spec.Memory.MaxSizeMiB is { } max && max > MemoryMiB)
        {
            problems.Add(new("Memory.MaxSizeMiB", I($"{max} MiB is more than this host's {MemoryMiB} MiB of memory (MemTotal in /proc/meminfo): lower it, {Overcommit}")));
        }

        if (spec.Cpu.Count > Cpus)
        {
            problems.Add(new("Cpu", I($"{spec.Cpu.Count} vCPUs (sockets × cores × threads) is more than this host's {Cpus} online CPUs (/sys/devices/system/cpu/online): lower it, {Overcommit}")));
        }

        if (spec.Cpu.MaxCount is { } maxCpus && maxCpus > Cpus)
        {
            problems.Add(new("Cpu.MaxCount", I($"{maxCpus} vCPUs is more than this host's {Cpus} online CPUs (/sys/devices/system/cpu/online): lower it, {Overcommit}")));
        }

        if (problems.Count > 0)
        {
            throw new InvalidVmSpecException(spec.Name, problems);
        }
    }

    private static string I(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
