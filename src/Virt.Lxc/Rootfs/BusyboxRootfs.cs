using System.IO.Abstractions;
using Virt.Lxc.Interop;
using Virt.Processes;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// A minimal system from the host's static busybox: the binary, a symlink per applet, busybox init with
/// an inittab that only runs an empty <c>rcS</c> (no DHCP client that would stall a clean stop, see
/// LXC-NOTES), and root's passwd/group entries. A dynamically linked busybox is refused: its libraries
/// would have to be bind-mounted from the host.
/// </summary>
internal static class BusyboxRootfs
{
    private static readonly string[] Directories = ["bin", "sbin", "etc", "etc/init.d", "proc", "sys", "dev", "root", "run", "var", "var/log", "usr", "usr/bin", "usr/sbin", "mnt", "home"];

    public static async Task BuildAsync(IFileSystem fileSystem, string root, string busybox, int idShift, IProcessRunner processes, CancellationToken cancellationToken)
    {
        if (!fileSystem.File.Exists(busybox))
        {
            throw new InvalidDataException($"'{busybox}' does not exist: install Debian's busybox-static, or set LxcOptions.BusyboxPath");
        }

        if (IsDynamicallyLinked(fileSystem, busybox))
        {
            throw new InvalidDataException($"'{busybox}' is dynamically linked and would need the host's libraries inside the container: install Debian's busybox-static");
        }

        foreach (var directory in Directories)
        {
            fileSystem.Directory.CreateDirectory(Path.Combine(root, directory));
        }

        fileSystem.Directory.CreateDirectory(Path.Combine(root, "tmp"));
        fileSystem.File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        fileSystem.File.Copy(busybox, Path.Combine(root, "bin/busybox"));
        fileSystem.File.SetUnixFileMode(Path.Combine(root, "bin/busybox"), (UnixFileMode)Convert.ToInt32("755", 8));

        var applets = await processes.RunAsync(new ProcessSpec(busybox, ["--list-full"]), cancellationToken).ConfigureAwait(false);
        applets.EnsureSuccess();
        foreach (var applet in applets.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var link = Path.Combine(root, applet);
            if (applet.Contains("..", StringComparison.Ordinal) || applet.StartsWith('/') || fileSystem.File.Exists(link) || fileSystem.FileInfo.New(link).LinkTarget is not null)
            {
                continue;
            }

            fileSystem.Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            fileSystem.File.CreateSymbolicLink(link, "/bin/busybox");
        }

        await fileSystem.File.WriteAllTextAsync(Path.Combine(root, "etc/inittab"), "::sysinit:/etc/init.d/rcS\n::shutdown:/bin/sync\n", cancellationToken).ConfigureAwait(false);
        await fileSystem.File.WriteAllTextAsync(Path.Combine(root, "etc/init.d/rcS"), "#!/bin/sh\n# Networking is configured by LXC before init runs; nothing to do.\n", cancellationToken).ConfigureAwait(false);
        fileSystem.File.SetUnixFileMode(Path.Combine(root, "etc/init.d/rcS"), (UnixFileMode)Convert.ToInt32("755", 8));
        await fileSystem.File.WriteAllTextAsync(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", cancellationToken).ConfigureAwait(false);
        await fileSystem.File.WriteAllTextAsync(Path.Combine(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n", cancellationToken).ConfigureAwait(false);
        await fileSystem.File.WriteAllTextAsync(Path.Combine(root, "etc/hosts"), "127.0.0.1 localhost\n", cancellationToken).ConfigureAwait(false);
        if (idShift != 0)
        {
            ShiftOwnership(fileSystem, root, idShift);
        }
    }

    /// <summary>Gives every file of a tree the owner <paramref name="idShift"/> + its current owner (a fresh tree is all root's).</summary>
    /// <remarks>Ownership has no <see cref="IFileSystem"/> form: the tree is listed through the seam, each entry is chowned with lchown(2) on the host.</remarks>
    public static void ShiftOwnership(IFileSystem fileSystem, string root, int idShift)
    {
        Chown(root);
        foreach (var entry in fileSystem.DirectoryInfo.New(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }))
        {
            Chown(entry.FullName);
        }

        void Chown(string path)
        {
            if (LibC.LChown(path, idShift, idShift) != 0)
            {
                throw new IOException($"cannot shift the owner of '{path}' to {idShift}: {LibC.LastError()}");
            }
        }
    }

    /// <summary>Whether an ELF executable has a PT_INTERP program header (asks for a dynamic loader).</summary>
    private static bool IsDynamicallyLinked(IFileSystem fileSystem, string path)
    {
        using var file = fileSystem.File.OpenRead(path);
        using var reader = new BinaryReader(file);
        var ident = reader.ReadBytes(16);
        if (ident.Length < 16 || ident[0] != 0x7f || ident[1] != (byte)'E' || ident[2] != (byte)'L' || ident[3] != (byte)'F' || ident[4] != 2)
        {
            return true;
        }

        file.Position = 32;
        var programHeaders = reader.ReadInt64();
        file.Position = 54;
        var entrySize = reader.ReadUInt16();
        var count = reader.ReadUInt16();
        for (var i = 0; i < count; i++)
        {
            file.Position = programHeaders + (i * entrySize);
            if (reader.ReadUInt32() == 3)
            {
                return true;
            }
        }

        return false;
    }
}
