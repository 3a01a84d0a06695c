using System.Globalization;
using System.IO.Abstractions;
using System.Security.Cryptography;
using System.Text;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Mdev;

/// <summary>
/// Mediated devices (<c>mdev_supported_types</c>, <c>/sys/bus/mdev/devices</c>) and NVIDIA's vGPU files of
/// kernels ≥ 6.8 (<c>nvidia/creatable_vgpu_types</c>, <c>current_vgpu_type</c>).
/// </summary>
internal sealed class MediatedDeviceController(IFileSystem fileSystem, PassthroughOptions options, PciSysfsReader reader, TimeProvider time)
{
    // A fixed namespace for name-based (version 5) mdev UUIDs, so a name gives the same UUID on every host.
    private static readonly Guid UuidNamespace = new("6f0d1f3e-5b7a-4f5e-9c39-3a8e2c1d7b40");

    private readonly SysfsWriter _writer = new(fileSystem, options.WriteTimeout, time);

    private string MdevDevices => fileSystem.Path.Combine(options.SysfsRoot, "bus", "mdev", "devices");

    /// <summary>RFC 9562 version 5 (SHA-1, name-based) UUID of a name in the SDK's namespace.</summary>
    public static Guid UuidFor(string name)
    {
        var namespaceBytes = UuidNamespace.ToByteArray(bigEndian: true);
        var data = namespaceBytes.Concat(Encoding.UTF8.GetBytes(name)).ToArray();
#pragma warning disable CA5350 // SHA-1 is what UUID version 5 is defined with; it is an identifier, not security.
        var hash = SHA1.HashData(data);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    public IReadOnlyList<MdevType> ListTypes(PciAddress parent)
    {
        var directory = fileSystem.Path.Combine(DeviceDirectory(reader.GetDevice(parent).Address), "mdev_supported_types");
        if (!fileSystem.Directory.Exists(directory))
        {
            return [];
        }

        return fileSystem.Directory.GetDirectories(directory)
            .Select(type => new MdevType(parent, fileSystem.Path.GetFileName(type), Text(type, "name"), Text(type, "device_api"), int.TryParse(Text(type, "available_instances"), NumberStyles.None, CultureInfo.InvariantCulture, out var available) ? available : 0, Text(type, "description")))
            .OrderBy(type => type.Id, StringComparer.Ordinal)
            .ToList();
    }

    public IReadOnlyList<MediatedDevice> ListDevices()
    {
        if (!fileSystem.Directory.Exists(MdevDevices))
        {
            return [];
        }

        return fileSystem.Directory.GetFileSystemEntries(MdevDevices)
            .Select(entry => Guid.TryParse(fileSystem.Path.GetFileName(entry), out var uuid) ? Describe(uuid) : null)
            .OfType<MediatedDevice>()
            .OrderBy(device => device.Uuid)
            .ToList();
    }

    public async Task<MediatedDevice> CreateAsync(PciAddress parent, string type, string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var types = ListTypes(parent);
        var chosen = types.FirstOrDefault(candidate => candidate.Id == type)
            ?? throw new PassthroughException(VirtErrorKind.InvalidInput, $"{parent} offers no mdev type '{type}': it offers {(types.Count == 0 ? "none (no mdev_supported_types: is the vGPU/GVT-g driver loaded?)" : string.Join(", ", types.Select(candidate => candidate.Id)))}");
        var uuid = UuidFor(name);
        if (Describe(uuid) is { } existing)
        {
            return existing.Parent == parent && existing.Type == type
                ? existing
                : throw new PassthroughException(VirtErrorKind.Conflict, $"mdev {uuid} for '{name}' already exists as {existing.Type} on {existing.Parent}: remove it first, or use another name");
        }

        if (chosen.AvailableInstances == 0)
        {
            throw new PassthroughException(VirtErrorKind.Conflict, $"{parent} has no {type} instance left (available_instances = 0): remove another mdev of this parent or choose a smaller type");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var create = fileSystem.Path.Combine(DeviceDirectory(parent), "mdev_supported_types", type, "create");
        await WriteAsync(parent, create, uuid.ToString("D"), $"creating mdev {uuid} ({type}) for '{name}'").ConfigureAwait(false);
        return Describe(uuid) ?? throw new PassthroughException($"mdev {uuid} did not appear in {MdevDevices} after creating it on {parent}");
    }

    public async Task RemoveAsync(Guid uuid, CancellationToken cancellationToken)
    {
        if (Describe(uuid) is not { } device)
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        await WriteAsync(device.Parent, fileSystem.Path.Combine(MdevDevices, uuid.ToString("D"), "remove"), "1", $"removing mdev {uuid} (a VM may still use it)").ConfigureAwait(false);
    }

    public NvidiaVgpuState VgpuState(PciAddress virtualFunction)
    {
        var directory = fileSystem.Path.Combine(DeviceDirectory(reader.GetDevice(virtualFunction).Address), "nvidia");
        var creatable = fileSystem.Path.Combine(directory, "creatable_vgpu_types");
        if (!fileSystem.File.Exists(creatable))
        {
            throw new PassthroughException(VirtErrorKind.Refused, $"{virtualFunction} has no nvidia/creatable_vgpu_types: it is not a VF of an NVIDIA vGPU card on a kernel ≥ 6.8 with NVIDIA's vGPU manager (enable its VFs first)");
        }

        // "ID    : vGPU Name" header, then "557   : NVIDIA L4-1B" lines.
        var types = fileSystem.File.ReadAllLines(creatable)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2 && int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(parts => new NvidiaVgpuType(int.Parse(parts[0].Trim(), CultureInfo.InvariantCulture), parts[1].Trim()))
            .ToList();
        var current = int.TryParse(Text(directory, "current_vgpu_type"), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : 0;
        return new NvidiaVgpuState(virtualFunction, types, current);
    }

    public async Task SetVgpuTypeAsync(PciAddress virtualFunction, int typeId, CancellationToken cancellationToken)
    {
        var state = VgpuState(virtualFunction);
        if (state.CurrentTypeId == typeId)
        {
            return;
        }

        if (typeId != 0 && state.CreatableTypes.All(type => type.Id != typeId))
        {
            throw new PassthroughException(VirtErrorKind.Conflict, $"{virtualFunction} cannot take vGPU type {typeId} now; it can take {(state.CreatableTypes.Count == 0 ? "none" : string.Join(", ", state.CreatableTypes.Select(type => $"{type.Id} ({type.Name})")))}");
        }

        if (typeId != 0 && state.CurrentTypeId != 0)
        {
            throw new PassthroughException(VirtErrorKind.Conflict, $"{virtualFunction} already has vGPU type {state.CurrentTypeId}: clear it (type 0) first");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var path = fileSystem.Path.Combine(DeviceDirectory(virtualFunction), "nvidia", "current_vgpu_type");
        await WriteAsync(virtualFunction, path, typeId.ToString(CultureInfo.InvariantCulture), $"setting the vGPU type of {virtualFunction} to {typeId}").ConfigureAwait(false);
        if (VgpuState(virtualFunction).CurrentTypeId != typeId)
        {
            throw new PassthroughException($"{virtualFunction} still reports vGPU type {VgpuState(virtualFunction).CurrentTypeId} after writing {typeId}");
        }
    }

    private MediatedDevice? Describe(Guid uuid)
    {
        var directory = fileSystem.Path.Combine(MdevDevices, uuid.ToString("D"));
        var typeLink = fileSystem.Directory.Exists(directory) ? fileSystem.FileInfo.New(fileSystem.Path.Combine(directory, "mdev_type")).LinkTarget : null;
        if (typeLink is null)
        {
            return null;
        }

        // .../<parent address>/mdev_supported_types/<type>
        var parts = typeLink.TrimEnd('/').Split('/');
        var index = Array.LastIndexOf(parts, "mdev_supported_types");
        return index > 0 && PciAddress.TryParse(parts[index - 1], out var parent) && index + 1 < parts.Length ? new MediatedDevice(uuid, parent, parts[index + 1]) : null;
    }

    private async Task WriteAsync(PciAddress device, string path, string value, string what)
    {
        try
        {
            await _writer.WriteAsync(device, path, value).ConfigureAwait(false);
        }
        catch (SysfsWriteFailure failure)
        {
            throw new PassthroughWriteException($"{what}: {failure.Message}", device, failure.Path, failure.ErrorName, hostRestored: true, failure);
        }
    }

    private string? Text(string directory, string file) => reader.Files.ReadText(fileSystem.Path.Combine(directory, file));

    private string DeviceDirectory(PciAddress address) => reader.DeviceDirectory(address);
}
