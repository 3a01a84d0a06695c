namespace Virt.Containers;

/// <summary>Where a container's root file system comes from.</summary>
public enum ContainerRootfsKind
{
    /// <summary>A minimal system built from the host's static busybox.</summary>
    Busybox,

    /// <summary>A tarball (plain, gzip, xz or zstd), checked entry by entry and unpacked by the SDK.</summary>
    Tarball,

    /// <summary>An existing directory, used in place and never deleted by the SDK.</summary>
    Directory,

    /// <summary>An OCI image layout (a directory, or a tar archive of one), unpacked layer by layer with whiteouts applied.</summary>
    OciLayout,
}

/// <summary>Where a container's root file system comes from; create one with the static methods.</summary>
/// <param name="Kind">The kind of source.</param>
/// <param name="Path">The tarball, directory or OCI layout on the host; <see langword="null"/> for busybox.</param>
/// <param name="Reference">For an OCI layout: the image's <c>org.opencontainers.image.ref.name</c>; <see langword="null"/> takes the only image.</param>
public sealed record ContainerRootfs(ContainerRootfsKind Kind, string? Path = null, string? Reference = null)
{
    /// <summary>A minimal system from the host's static busybox (Debian's busybox-static).</summary>
    /// <returns>The source.</returns>
    public static ContainerRootfs Busybox() => new(ContainerRootfsKind.Busybox);

    /// <summary>A tarball to unpack; absolute paths, <c>..</c>, device nodes and links escaping the root are refused.</summary>
    /// <param name="path">The tarball on the host.</param>
    /// <returns>The source.</returns>
    public static ContainerRootfs Tarball(string path) => new(ContainerRootfsKind.Tarball, path);

    /// <summary>An existing directory, used in place.</summary>
    /// <param name="path">The directory on the host.</param>
    /// <returns>The source.</returns>
    public static ContainerRootfs Directory(string path) => new(ContainerRootfsKind.Directory, path);

    /// <summary>An OCI image layout: a directory with <c>index.json</c>, or a tar archive of one.</summary>
    /// <param name="path">The layout on the host.</param>
    /// <param name="reference">The image's reference name; <see langword="null"/> when the layout holds one image.</param>
    /// <returns>The source.</returns>
    public static ContainerRootfs OciLayout(string path, string? reference = null) => new(ContainerRootfsKind.OciLayout, path, reference);
}
