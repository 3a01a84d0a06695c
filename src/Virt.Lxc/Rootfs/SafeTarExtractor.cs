using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Virt.Lxc.Interop;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Unpacks a tar stream into a container root without trusting it. Everything is done relative to a
/// descriptor of the root (<see cref="ConfinedTree"/>): each parent directory is opened with
/// <c>openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)</c> and each entry made, changed or removed with an
/// <c>*at</c> call on that descriptor, so no symlink in the tree — from an earlier entry, an earlier layer or
/// this one — is ever followed. Absolute names and <c>..</c> are refused, writing through a symlink is an
/// error, symlinks whose relative target climbs above the root are refused, hard links must name a regular
/// file already in the tree, and device nodes are refused (LXC's autodev provides <c>/dev</c>; nodes under
/// <c>dev/</c> are skipped). Ownership is kept, shifted by <paramref name="idShift"/> for unprivileged
/// containers, and modes (set-id bits included: they serve the container's own users; the container
/// directory keeps the host's users away from them) are set on the descriptor after the owner.
/// With <paramref name="whiteouts"/> it applies OCI layer whiteouts (<c>.wh.name</c>, <c>.wh..wh..opq</c>):
/// a whiteout naming <c>.</c>, <c>..</c> or nothing is refused, and an opaque directory is cleared at once,
/// through its descriptor, of what lower layers put there.
/// </summary>
internal sealed class SafeTarExtractor(string root, int idShift, int idLimit, bool whiteouts)
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";
    /// <summary>PATH_MAX: no longer name can be opened in one call inside the container anyway.</summary>
    private const int MaxNameBytes = 4096;

    /// <summary>Deeper trees are unusable (PATH_MAX) and would only make removal recurse deeply.</summary>
    private const int MaxDepth = 256;

    private const long MaxTrackedCharacters = 64L * 1024 * 1024;
    private const int FileFlags = LibC.OWronly | LibC.OCreat | LibCAt.OExcl | LibC.ONofollow | LibC.OCloexec;
    private readonly HashSet<string> _writtenThisLayer = new(StringComparer.Ordinal);
    private readonly HashSet<string> _aboveWrittenThisLayer = new(StringComparer.Ordinal);
    private long _trackedCharacters;

    /// <summary>Entries skipped (device nodes under dev/), for the log.</summary>
    public List<string> Skipped { get; } = [];

    public async Task ExtractAsync(Stream tar, CancellationToken cancellationToken)
    {
        _writtenThisLayer.Clear();
        _aboveWrittenThisLayer.Clear();
        _trackedCharacters = 0;
        using var tree = ConfinedTree.Open(root);
        using var reader = new TarReader(tar, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            await ExtractEntryAsync(tree, entry, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ExtractEntryAsync(ConfinedTree tree, TarEntry entry, CancellationToken cancellationToken)
    {
        var relative = Normalize(entry.Name);
        if (relative.Length == 0)
        {
            return;
        }

        var slash = relative.LastIndexOf('/');
        var parentPath = slash < 0 ? string.Empty : relative[..slash];
        var name = relative[(slash + 1)..];
        if (whiteouts && name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(tree, entry.Name, parentPath, name);
            return;
        }

        if (entry.EntryType is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
        {
            if (relative.StartsWith("dev/", StringComparison.Ordinal))
            {
                Skipped.Add(relative);
                return;
            }

            throw new InvalidDataException($"entry '{entry.Name}' is a device node outside dev/: refused, since it would give the container raw access to a host device");
        }

        if (entry.EntryType is not (TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile
            or TarEntryType.SymbolicLink or TarEntryType.HardLink or TarEntryType.Fifo))
        {
            // PAX and GNU metadata entries are folded into the entries they describe by TarReader.
            return;
        }

        if (entry.EntryType != TarEntryType.HardLink)
        {
            // A hard link shares its target's inode, owner included: its own header fields are not used.
            CheckOwner(entry);
        }

        using var parent = tree.EnsureDirectory(parentPath, idShift);
        var parentFd = ConfinedTree.Fd(parent);
        MarkWritten(relative);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (LibCAt.StatAt(parentFd, name) is { Type: not LibC.SIfdir })
                {
                    ConfinedTree.Remove(parent, name, relative);
                }

                if (LibCAt.MkdirAt(parentFd, name, Convert.ToUInt32("700", 8)) != 0 && Marshal.GetLastPInvokeError() != LibCAt.EExist)
                {
                    throw new IOException($"cannot create the directory '{entry.Name}': {LibC.LastError()}");
                }

                using (var directory = ConfinedTree.OpenChild(parent, name, ConfinedTree.DirectoryFlags, 0, relative) ?? throw new IOException($"the directory '{entry.Name}' vanished after it was created"))
                {
                    SetOwnerAndMode(directory, entry);
                }

                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                ConfinedTree.Remove(parent, name, relative);
                using (var file = ConfinedTree.OpenChild(parent, name, FileFlags, Convert.ToUInt32("600", 8), relative) ?? throw new IOException($"cannot create '{entry.Name}'"))
                {
                    // Real I/O on purpose: a stream over the descriptor created beneath the root (openat2 RESOLVE_IN_ROOT); IFileSystem has no descriptor form.
                    var stream = new FileStream(file, FileAccess.Write, bufferSize: 0);
                    await using (stream.ConfigureAwait(false))
                    {
                        if (entry.DataStream is not null)
                        {
                            await entry.DataStream.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
                        }

                        SetOwnerAndMode(file, entry);
                    }
                }

                break;
            case TarEntryType.SymbolicLink:
                CheckSymlinkTarget(relative, entry.LinkName);
                ConfinedTree.Remove(parent, name, relative);
                if (LibCAt.SymlinkAt(entry.LinkName, parentFd, name) != 0)
                {
                    throw new IOException($"cannot create the symlink '{entry.Name}': {LibC.LastError()}");
                }

                if (LibCAt.FchownAt(parentFd, name, entry.Uid + idShift, entry.Gid + idShift, LibCAt.ATSymlinkNofollow) != 0)
                {
                    throw new IOException($"cannot set the owner of '{entry.Name}': {LibC.LastError()}");
                }

                break;
            case TarEntryType.HardLink:
                Link(tree, entry, relative, parent, name);
                break;
            case TarEntryType.Fifo:
                ConfinedTree.Remove(parent, name, relative);
                if (LibCAt.MkfifoAt(parentFd, name, Convert.ToUInt32("600", 8)) != 0)
                {
                    throw new IOException($"cannot create the fifo '{entry.Name}': {LibC.LastError()}");
                }

                // Opened for reading without blocking (a fifo opens at once so), to set owner and mode on the descriptor.
                using (var fifo = ConfinedTree.OpenChild(parent, name, LibC.ORdonly | LibC.ONonblock | LibC.ONofollow | LibC.OCloexec, 0, relative) ?? throw new IOException($"the fifo '{entry.Name}' vanished after it was created"))
                {
                    SetOwnerAndMode(fifo, entry);
                }

                break;
        }
    }

    private void Link(ConfinedTree tree, TarEntry entry, string relative, SafeFileHandle parent, string name)
    {
        var existing = Normalize(entry.LinkName);
        var slash = existing.LastIndexOf('/');
        var existingName = existing[(slash + 1)..];
        using var existingParent = existing.Length == 0 ? null : tree.OpenDirectory(slash < 0 ? string.Empty : existing[..slash]);
        if (existingParent is null || LibCAt.StatAt(ConfinedTree.Fd(existingParent), existingName) is not { Type: LibC.SIfreg })
        {
            throw new InvalidDataException($"entry '{entry.Name}' is a hard link to '{entry.LinkName}', which is not a regular file unpacked before it");
        }

        if (existing == relative)
        {
            return;
        }

        ConfinedTree.Remove(parent, name, relative);

        // Flags 0: linkat does not follow the existing name were it a symlink (it was checked not to be).
        if (LibCAt.LinkAt(ConfinedTree.Fd(existingParent), existingName, ConfinedTree.Fd(parent), name, 0) != 0)
        {
            throw new IOException($"cannot create hard link '{entry.Name}' to '{entry.LinkName}': {LibC.LastError()}");
        }
    }

    private void ApplyWhiteout(ConfinedTree tree, string entryName, string parentPath, string name)
    {
        if (name == OpaqueWhiteout)
        {
            using var directory = tree.OpenDirectory(parentPath);
            if (directory is not null)
            {
                ClearExceptWrittenThisLayer(directory, parentPath);
            }

            return;
        }

        var target = name[WhiteoutPrefix.Length..];
        if (target.Length == 0 || target is "." or ".." || target.Contains('/', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"whiteout '{entryName}' names '{target}', which is not a file name: refused, since it would remove the directory itself or its parent");
        }

        var relative = parentPath.Length == 0 ? target : parentPath + "/" + target;
        if (_writtenThisLayer.Contains(relative))
        {
            // A whiteout hides what lower layers hold, never what its own layer adds.
            return;
        }

        using var parent = tree.OpenDirectory(parentPath);
        if (parent is not null)
        {
            ConfinedTree.Remove(parent, target, relative);
        }
    }

    /// <summary>An opaque directory hides what lower layers put there, but not what this layer added (before or after the marker).</summary>
    private void ClearExceptWrittenThisLayer(SafeFileHandle directory, string relativeDirectory)
    {
        foreach (var raw in LibCAt.ListNames(ConfinedTree.Fd(directory)))
        {
            var childName = Encoding.UTF8.GetString(raw);
            var relative = relativeDirectory.Length == 0 ? childName : relativeDirectory + "/" + childName;
            if (_writtenThisLayer.Contains(relative))
            {
                continue;
            }

            if (_aboveWrittenThisLayer.Contains(relative))
            {
                using var child = ConfinedTree.OpenSubdirectory(directory, raw);
                if (child is not null)
                {
                    ClearExceptWrittenThisLayer(child, relative);
                    continue;
                }
            }

            ConfinedTree.Remove(directory, raw, relative);
        }
    }

    private void MarkWritten(string relative)
    {
        Track(relative);
        _writtenThisLayer.Add(relative);

        // Deepest parent first: once one is known, so are all above it (each entry costs only its new parents).
        for (var slash = relative.LastIndexOf('/'); slash > 0; slash = relative.LastIndexOf('/', slash - 1))
        {
            var parent = relative[..slash];
            if (!_aboveWrittenThisLayer.Add(parent))
            {
                break;
            }

            Track(parent);
        }
    }

    /// <summary>
    /// Bounds the memory a layer can make the unpacker hold: a layer of many deep, distinct paths would
    /// otherwise cost far more here than its own size.
    /// </summary>
    private void Track(string relative)
    {
        _trackedCharacters += relative.Length;
        if (_trackedCharacters > MaxTrackedCharacters)
        {
            throw new InvalidDataException($"the layer names more than {MaxTrackedCharacters / (1024 * 1024)} Mi characters of distinct paths (at '{relative[..Math.Min(relative.Length, 200)]}'): refused, since tracking them would exhaust memory; flatten or split the image");
        }
    }

    private static string Normalize(string name)
    {
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"entry name '{name.Replace("\0", "\\0", StringComparison.Ordinal)}' contains NUL");
        }

        if (name.StartsWith('/'))
        {
            throw new InvalidDataException($"entry '{name}' has an absolute path: refused, since it would be written outside the rootfs");
        }

        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
        {
            throw new InvalidDataException($"entry '{name[..200]}...' is longer than {MaxNameBytes} bytes: refused, since no program in the container could open it");
        }

        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToList();
        if (parts.Contains(".."))
        {
            throw new InvalidDataException($"entry '{name}' contains '..': refused, since it could be written outside the rootfs");
        }

        if (parts.Count > MaxDepth)
        {
            throw new InvalidDataException($"entry '{name[..Math.Min(name.Length, 200)]}...' is {parts.Count} directories deep, more than {MaxDepth}: refused");
        }

        return string.Join('/', parts);
    }

    private static void CheckSymlinkTarget(string relative, string linkName)
    {
        if (string.IsNullOrEmpty(linkName) || linkName.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"symlink '{relative}' has an empty target or one with NUL");
        }

        if (linkName.StartsWith('/'))
        {
            // Absolute targets are resolved inside the container, where / is the rootfs.
            return;
        }

        var depth = relative.Count(c => c == '/');
        foreach (var part in linkName.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            depth += part switch { ".." => -1, "." => 0, _ => 1 };
            if (depth < 0)
            {
                throw new InvalidDataException($"symlink '{relative}' -> '{linkName}' climbs above the rootfs: refused");
            }
        }
    }

    private void CheckOwner(TarEntry entry)
    {
        if (entry.Uid < 0 || entry.Gid < 0 || entry.Uid >= idLimit || entry.Gid >= idLimit)
        {
            throw new InvalidDataException($"entry '{entry.Name}' is owned by {entry.Uid}:{entry.Gid}, outside the container's {idLimit} ids");
        }
    }

    private void SetOwnerAndMode(SafeFileHandle handle, TarEntry entry)
    {
        if (LibC.FChown(ConfinedTree.Fd(handle), entry.Uid + idShift, entry.Gid + idShift) != 0)
        {
            throw new IOException($"cannot set the owner of '{entry.Name}': {LibC.LastError()}");
        }

        // After chown, which clears set-id bits.
        if (LibCAt.Fchmod(ConfinedTree.Fd(handle), (uint)entry.Mode) != 0)
        {
            throw new IOException($"cannot set the mode of '{entry.Name}': {LibC.LastError()}");
        }
    }
}
