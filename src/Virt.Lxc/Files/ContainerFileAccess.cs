using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Virt.Containers;
using Virt.Lxc.CommandSocket;
using Virt.Lxc.Interop;

namespace Virt.Lxc.Files;

/// <summary>
/// Reads and writes files of a running container through <c>/proc/&lt;init pid&gt;/root</c>, resolving the
/// path with <c>openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)</c>: the kernel resolves every symlink and
/// <c>..</c> as if the container's root were <c>/</c>, so no link planted in the container can reach a
/// host file, and there is no window between a check and the open. Requested paths with <c>..</c> are
/// refused outright.
/// </summary>
/// <remarks>
/// The container's processes own the tree, so what the path names is untrusted: it is first opened with
/// <c>O_PATH</c> (which opens nothing: no FIFO blocks, no device driver runs), checked to be a regular file
/// on a data filesystem (not procfs, sysfs, cgroupfs... whose files are the host kernel's), and only then
/// opened for reading or writing through that very descriptor (<c>/proc/self/fd/N</c>), so the file
/// checked is the file used. The root is opened through the init pinned by a pidfd, and counts only if
/// that process still lives afterwards (its pid cannot have been reused).
/// </remarks>
internal static class ContainerFileAccess
{
    private const int CopyBufferSize = 81920;

    public static async Task PushAsync(string containerName, ContainerInitProcess init, string path, Stream content, UnixFileMode mode, int ownerShift, CancellationToken cancellationToken)
    {
        var relative = CheckPath(containerName, path);
        using var handle = OpenRegularFile(containerName, init, path, relative, write: true, (ulong)mode);
        if (ownerShift != 0 && LibC.FChown((int)handle.DangerousGetHandle(), ownerShift, ownerShift) != 0)
        {
            throw new ContainerPathException(containerName, path, $"cannot give it to the container's root ({ownerShift}): {LibC.LastError()}");
        }

        // Real I/O on purpose: a stream over the descriptor opened and checked above; IFileSystem has no descriptor form.
        var stream = new FileStream(handle, FileAccess.Write);
        await using (stream.ConfigureAwait(false))
        {
            await content.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Copies the file as long as it was when opened: a file the container keeps growing does not make the pull endless.</summary>
    public static async Task PullAsync(string containerName, ContainerInitProcess init, string path, Stream destination, CancellationToken cancellationToken)
    {
        var relative = CheckPath(containerName, path);
        using var handle = OpenRegularFile(containerName, init, path, relative, write: false, 0);
        var remaining = LibC.FileSize((int)handle.DangerousGetHandle());
        if (remaining < 0)
        {
            throw new ContainerPathException(containerName, path, $"cannot read its size: {LibC.LastError()}");
        }

        // Real I/O on purpose: a stream over the descriptor opened and checked above; IFileSystem has no descriptor form.
        var stream = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[CopyBufferSize];
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                remaining -= read;
            }
        }
    }

    private static string CheckPath(string containerName, string path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ContainerPathException(VirtErrorKind.InvalidInput, containerName, path ?? "(null)", "give an absolute path inside the container, without NUL");
        }

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Contains(".."))
        {
            throw new ContainerPathException(VirtErrorKind.InvalidInput, containerName, path, "'..' is refused: give the path without it");
        }

        if (parts.Length == 0)
        {
            throw new ContainerPathException(VirtErrorKind.InvalidInput, containerName, path, "the root directory is not a file");
        }

        return string.Join('/', parts);
    }

    /// <summary>
    /// Opens a regular file of the container for reading, or for writing (created when missing,
    /// truncated when present), without ever opening anything else; the descriptor is blocking.
    /// </summary>
    private static SafeFileHandle OpenRegularFile(string containerName, ContainerInitProcess init, string path, string relative, bool write, ulong mode)
    {
        var rootPath = $"/proc/{init.Pid.ToString(CultureInfo.InvariantCulture)}/root";
        var rootFd = LibC.Open(rootPath, LibC.OPath | LibC.ODirectory | LibC.OCloexec);
        if (rootFd < 0)
        {
            throw new ContainerPathException(containerName, path, $"cannot open the container's root {rootPath}: {LibC.LastError()} (did it stop?)");
        }

        try
        {
            if (!init.IsAlive)
            {
                throw new ContainerPathException(containerName, path, $"the container's init (pid {init.Pid.ToString(CultureInfo.InvariantCulture)}) exited while its root was opened: the container stopped; start it and try again");
            }

            // A pushed path's last component is not followed (a link there is refused); a pulled one is, inside the root.
            var resolve = LibC.ResolveInRoot | LibC.ResolveNoMagicLinks;
            var probe = new LibC.OpenHow { Flags = (ulong)(LibC.OPath | LibC.OCloexec | (write ? LibC.ONofollow : 0)), Resolve = resolve };
            var pathFd = LibC.OpenAt2(rootFd, relative, ref probe);
            if (pathFd < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (write && error == (int)Errno.NoEntry)
                {
                    // Missing: create it. O_EXCL makes sure the file written is the regular file made here.
                    var create = new LibC.OpenHow { Flags = (ulong)(LibC.OWronly | LibC.OCreat | LibC.OExcl | LibC.ONofollow | LibC.ONonblock | LibC.OCloexec), Mode = mode, Resolve = resolve };
                    var created = LibC.OpenAt2(rootFd, relative, ref create);
                    if (created < 0)
                    {
                        throw new ContainerPathException(containerName, path, $"{LibC.LastError()} (resolved inside the container's root, symlinks included)");
                    }

                    return RequireRegular(containerName, path, new SafeFileHandle(created, ownsHandle: true));
                }

                throw new ContainerPathException(containerName, path, $"{Marshal.GetPInvokeErrorMessage(error)} (resolved inside the container's root, symlinks included)");
            }

            try
            {
                CheckKind(containerName, path, pathFd);

                // Reopening the O_PATH descriptor opens the inode just checked, whatever the path names by now.
                var reopened = LibC.Open($"/proc/self/fd/{pathFd.ToString(CultureInfo.InvariantCulture)}", (write ? LibC.OWronly | LibC.OTrunc : LibC.ORdonly) | LibC.ONonblock | LibC.OCloexec);
                if (reopened < 0)
                {
                    throw new ContainerPathException(containerName, path, $"cannot open it for {(write ? "writing" : "reading")}: {LibC.LastError()}");
                }

                return RequireRegular(containerName, path, new SafeFileHandle(reopened, ownsHandle: true));
            }
            finally
            {
                LibC.Close(pathFd);
            }
        }
        finally
        {
            LibC.Close(rootFd);
        }
    }

    /// <summary>Refuses anything but a regular file on a filesystem that holds data.</summary>
    private static void CheckKind(string containerName, string path, int fd)
    {
        var type = LibC.FileType(fd);
        if (type != LibC.SIfreg)
        {
            throw new ContainerPathException(VirtErrorKind.Refused, containerName, path, $"it is {KindName(type)}, not a regular file: only regular files are pushed and pulled (a fifo, device or socket planted in the container is never opened)");
        }

        var fileSystem = LibC.FileSystemType(fd);
        if (fileSystem < 0 || LibC.KernelFileSystems.Contains(fileSystem))
        {
            throw new ContainerPathException(VirtErrorKind.Refused, containerName, path, $"it lives on a kernel filesystem (type 0x{fileSystem.ToString("x", CultureInfo.InvariantCulture)}: proc, sysfs, cgroupfs...), whose files are the host kernel's, not the container's data");
        }
    }

    /// <summary>Checks the open file again and makes its descriptor blocking, for <see cref="FileStream"/>.</summary>
    private static SafeFileHandle RequireRegular(string containerName, string path, SafeFileHandle handle)
    {
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            CheckKind(containerName, path, fd);
            var flags = LibC.Fcntl(fd, LibC.FGetFl, 0);
            if (flags < 0 || LibC.Fcntl(fd, LibC.FSetFl, flags & ~LibC.ONonblock) < 0)
            {
                throw new ContainerPathException(containerName, path, $"cannot clear O_NONBLOCK on it: {LibC.LastError()}");
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string KindName(int type) => type switch
    {
        < 0 => $"unreadable ({LibC.LastError()})",
        LibC.SIfdir => "a directory",
        0x1000 => "a fifo",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xA000 => "a symbolic link",
        0xC000 => "a socket",
        _ => $"of type 0{Convert.ToString(type, 8)}",
    };

    private enum Errno
    {
        NoEntry = 2,
    }
}
