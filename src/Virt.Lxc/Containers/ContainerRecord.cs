using System.Text.Json.Serialization;
using Virt.Containers;

namespace Virt.Lxc.Containers;

/// <summary>What the SDK keeps about a container next to LXC's config: the spec, where its rootfs is, and what its image wants to run.</summary>
/// <param name="Spec">The spec as created.</param>
/// <param name="RootfsPath">The rootfs directory (the SDK's own, or the user's for a directory source).</param>
/// <param name="RootfsOwned">Whether the SDK built the rootfs and deletes it with the container.</param>
/// <param name="ImageInit">An OCI image's entrypoint, command, environment and working directory.</param>
internal sealed record ContainerRecord(ContainerSpec Spec, string RootfsPath, bool RootfsOwned, ContainerInit? ImageInit)
{
    /// <summary>For a rootfs on a storage volume: the volume's raw image file, which LXC loop-mounts (<see cref="RootfsPath"/> is then that file).</summary>
    public bool RootfsIsImage { get; init; }
}

/// <summary>Source-generated JSON for the container records (AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerRecord))]
internal sealed partial class LxcJsonContext : JsonSerializerContext;
