using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Virt.Lxc.Interop;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// A directory whose content is untrusted — an image being unpacked, a container's rootfs being removed —
/// handled only through descriptors. Every lookup is <c>openat2</c> beneath the tree's root with
/// <c>RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS</c>, and every change is an <c>*at</c>
/// call on the descriptor of the parent directory with a single name: a symlink planted anywhere in the
/// tree (even one swapped in after a check) is never followed, so nothing outside the tree is read,
/// written or removed through it. Only the tree's own path (the caller's, trusted) is resolved by name.
/// </summary>
internal sealed class ConfinedTree : IDisposable
{
    public const int DirectoryFlags = LibC.ORdonly | LibC.ODirectory | LibC.ONofollow | LibC.OCloexec;

    /// <summary>
    /// Lookups that make or remove entries also stay on the tree's file system: a rootfs never needs to
    /// cross a mount, and a removal must not empty a file system mounted inside it (a host directory
    /// bind-mounted there).
    /// </summary>
    private const ulong ResolveTree = LibCAt.ResolveConfined | LibCAt.ResolveNoXdev;
    private readonly SafeFileHandle _root;

    private ConfinedTree(string path, SafeFileHandle root)
    {
        Path = path;
        _root = root;
    }

    /// <summary>The tree's path, for messages.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens the tree at <paramref name="path"/>, a directory; with <paramref name="followLink"/> false its
    /// last component must not be a symlink (a directory the SDK made), with true it may (a directory the
    /// caller named).
    /// </summary>
    public static ConfinedTree Open(string path, bool followLink = false)
    {
        var fd = LibC.Open(path, followLink ? DirectoryFlags & ~LibC.ONofollow : DirectoryFlags);
        if (fd < 0)
        {
            throw new IOException($"cannot open the directory '{path}': {LibC.LastError()}");
        }

        return new ConfinedTree(path, new SafeFileHandle(fd, ownsHandle: true));
    }

    /// <summary>
    /// The directory at <paramref name="relative"/> (components joined by '/', without '.' or '..'), or null
    /// when a component is missing. A component that is a symlink or not a directory is an error.
    /// </summary>
    public SafeFileHandle? OpenDirectory(string relative) => Walk(relative, create: null);

    /// <summary>The directory at <paramref name="relative"/>, creating what is missing (0755, owned by <paramref name="owner"/>).</summary>
    public SafeFileHandle EnsureDirectory(string relative, int owner) => Walk(relative, owner)!;

    /// <summary>
    /// Opens a file of the tree (a layout's document or blob) for reading without following any link and
    /// without blocking on a FIFO; null when it does not exist.
    /// </summary>
    public SafeFileHandle? OpenForReading(string relative)
    {
        var how = new LibC.OpenHow { Flags = (ulong)(LibC.ORdonly | LibC.ONofollow | LibC.ONonblock | LibC.OCloexec), Resolve = LibCAt.ResolveConfined };
        var fd = LibC.OpenAt2(Fd(_root), relative, ref how);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        return Marshal.GetLastPInvokeError() switch
        {
            LibCAt.ENoent => null,
            LibCAt.ELoop => throw new InvalidDataException($"'{relative}' in '{Path}' is a symlink, or lies under one: refused, since it may point outside the directory (copy the file in instead)"),
            LibCAt.EXdev => throw new InvalidDataException($"'{relative}' in '{Path}' escapes the directory: refused"),
            _ => throw new IOException($"cannot open '{relative}' in '{Path}': {LibC.LastError()}"),
        };
    }

    public static int Fd(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    /// <summary>Opens <paramref name="name"/> under <paramref name="parent"/> with openat2 (confined); null when missing; throws on any other error.</summary>
    public static SafeFileHandle? OpenChild(SafeFileHandle parent, string name, int flags, uint mode, string display)
    {
        var how = new LibC.OpenHow { Flags = (ulong)flags, Mode = mode, Resolve = ResolveTree };
        var fd = LibC.OpenAt2(Fd(parent), name, ref how);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var error = Marshal.GetLastPInvokeError();
        var message = LibC.LastError();

        // O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR, not ELOOP: look at what is there.
        if (error is LibCAt.ELoop or LibCAt.ENotdir && LibCAt.StatAt(Fd(parent), name) is { Type: LibCAt.SIflnk })
        {
            throw new InvalidDataException($"refused to go through the symlink '{display}': it may point outside the rootfs");
        }

        return error switch
        {
            LibCAt.ENoent => null,
            LibCAt.ENotdir => throw new InvalidDataException($"'{display}' is not a directory (a file of the image is in the way)"),
            LibCAt.EXdev => throw new IOException($"'{display}' is a mount point: refused to cross into another file system"),
            _ => throw new IOException($"cannot open '{display}': {message}"),
        };
    }

    /// <summary>
    /// The subdirectory <paramref name="name"/>, or null when it is missing, a symlink or not a directory. A
    /// mount point is an error unless <paramref name="mayBeMountPoint"/>.
    /// </summary>
    public static SafeFileHandle? OpenSubdirectory(SafeFileHandle parent, ReadOnlySpan<byte> name, bool mayBeMountPoint = false)
    {
        var how = new LibC.OpenHow { Flags = DirectoryFlags, Resolve = mayBeMountPoint ? LibCAt.ResolveConfined : ResolveTree };
        var fd = LibCAt.OpenAt2(Fd(parent), name, ref how);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        return Marshal.GetLastPInvokeError() switch
        {
            LibCAt.ENoent or LibCAt.ELoop or LibCAt.ENotdir => null,
            LibCAt.EXdev => throw new IOException($"'{Encoding.UTF8.GetString(name)}' is a mount point: refused to remove what is mounted there"),
            _ => throw new IOException($"cannot open the directory '{Encoding.UTF8.GetString(name)}': {LibC.LastError()}"),
        };
    }

    /// <summary>
    /// How deep a removal goes before it refuses. A container's payload can make a tree of any depth in its
    /// rootfs; removing it by recursion must not exhaust the stack of the process that deletes the container.
    /// </summary>
    public const int MaxRemovalDepth = 1024;

    /// <summary>Removes <paramref name="name"/> under <paramref name="parent"/> whatever it is (a directory with all it holds); nothing when missing.</summary>
    public static void Remove(SafeFileHandle parent, string name, string display) => Remove(parent, Encoding.UTF8.GetBytes(name), display);

    /// <inheritdoc cref="Remove(SafeFileHandle, string, string)"/>
    public static void Remove(SafeFileHandle parent, ReadOnlySpan<byte> name, string display) => Remove(parent, name, new RemovalTrail(null, display), mayBeMountPoint: false, depth: 0);

    private static void Remove(SafeFileHandle parent, ReadOnlySpan<byte> name, RemovalTrail trail, bool mayBeMountPoint, int depth)
    {
        if (LibCAt.UnlinkAt(Fd(parent), name, 0) == 0)
        {
            return;
        }

        switch (Marshal.GetLastPInvokeError())
        {
            case LibCAt.ENoent:
                return;
            case LibCAt.EIsdir:
                break;
            default:
                throw new IOException($"cannot remove '{trail}': {LibC.LastError()}");
        }

        if (depth >= MaxRemovalDepth)
        {
            throw new IOException($"cannot remove '{trail}': the tree is more than {MaxRemovalDepth} directories deep there; remove it by hand (rm -rf)");
        }

        using (var directory = OpenSubdirectory(parent, name, mayBeMountPoint))
        {
            if (directory is null)
            {
                // Gone or replaced between the two calls: unlink whatever is there now (never followed).
                Remove(parent, name, trail, mayBeMountPoint: false, depth);
                return;
            }

            foreach (var child in LibCAt.ListNames(Fd(directory)))
            {
                Remove(directory, child, new RemovalTrail(trail, Encoding.UTF8.GetString(child)), mayBeMountPoint: false, depth + 1);
            }
        }

        if (LibCAt.UnlinkAt(Fd(parent), name, LibCAt.ATRemoveDir) != 0 && Marshal.GetLastPInvokeError() != LibCAt.ENoent)
        {
            throw new IOException($"cannot remove the directory '{trail}': {LibC.LastError()}");
        }
    }

    /// <summary>The path being removed, joined only when an error names it (joining at every level would cost the square of the depth).</summary>
    private sealed record RemovalTrail(RemovalTrail? Parent, string Name)
    {
        public override string ToString() => Parent is null ? Name : $"{Parent}/{Name}";
    }

    /// <summary>
    /// Removes the directory <paramref name="path"/> and everything in it without following any symlink in
    /// it (its parent path is the caller's and is resolved normally). Nothing when it does not exist.
    /// </summary>
    public static void DeleteTree(string path)
    {
        var full = System.IO.Path.GetFullPath(path).TrimEnd('/');
        var parentPath = System.IO.Path.GetDirectoryName(full);
        var name = System.IO.Path.GetFileName(full);
        if (parentPath is null || name.Length == 0)
        {
            throw new ArgumentException($"'{path}' has no parent directory: refused to delete it", nameof(path));
        }

        var fd = LibC.Open(parentPath, LibC.ORdonly | LibC.ODirectory | LibC.OCloexec);
        if (fd < 0)
        {
            if (Marshal.GetLastPInvokeError() == LibCAt.ENoent)
            {
                return;
            }

            throw new IOException($"cannot open '{parentPath}' to delete '{name}' from it: {LibC.LastError()}");
        }

        // The directory itself may be a mount point (the caller chose it); nothing under it is crossed into.
        using var parent = new SafeFileHandle(fd, ownsHandle: true);
        Remove(parent, Encoding.UTF8.GetBytes(name), new RemovalTrail(null, full), mayBeMountPoint: true, depth: 0);
    }

    private SafeFileHandle? Walk(string relative, int? create)
    {
        var how = new LibC.OpenHow { Flags = DirectoryFlags, Resolve = ResolveTree };
        var fd = LibC.OpenAt2(Fd(_root), relative.Length == 0 ? "." : relative, ref how);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        // Component by component, to create what is missing and to say which one is in the way.
        var current = OpenChild(_root, ".", DirectoryFlags, 0, Path)!;
        var walked = string.Empty;
        try
        {
            foreach (var part in relative.Split('/'))
            {
                walked = walked.Length == 0 ? part : walked + "/" + part;
                var next = OpenChild(current, part, DirectoryFlags, 0, walked);
                if (next is null)
                {
                    if (create is not { } owner)
                    {
                        current.Dispose();
                        return null;
                    }

                    if (LibCAt.MkdirAt(Fd(current), part, Convert.ToUInt32("755", 8)) != 0 && Marshal.GetLastPInvokeError() != LibCAt.EExist)
                    {
                        throw new IOException($"cannot create the directory '{walked}': {LibC.LastError()}");
                    }

                    next = OpenChild(current, part, DirectoryFlags, 0, walked) ?? throw new IOException($"the directory '{walked}' vanished after it was created");
                    if (owner != 0 && LibC.FChown(Fd(next), owner, owner) != 0)
                    {
                        next.Dispose();
                        throw new IOException($"cannot give the directory '{walked}' to {owner}: {LibC.LastError()}");
                    }
                }

                current.Dispose();
                current = next;
            }

            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    public void Dispose() => _root.Dispose();
}
