using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Virt.Containers;
using Virt.Lxc.Interop;

namespace Virt.Lxc.Files;

/// <summary>
/// Reads and writes files of a running container through <c>/proc/&lt;init pid&gt;/root</c>, resolving the
/// path with <c>openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)</c>: the kernel resolves every symlink and
/// <c>..</c> as if the container's root were <c>/</c>, so no link planted in the container can reach a
/// host file, and there is no window between a check and the open. Requested paths with <c>..</c> are
/// refused outright.
/// </summary>
internal static class ContainerFileAccess
{
    public static async Task PushAsync(string containerName, int initPid, string path, Stream content, UnixFileMode mode, int ownerShift, CancellationToken cancellationToken)
    {
        var relative = CheckPath(containerName, path);
        using var handle = OpenInRoot(containerName, initPid, path, relative, LibC.OWronly | LibC.OCreat | LibC.OTrunc | LibC.OCloexec | LibC.ONofollow, (ulong)mode);
        if (LibC.FileType((int)handle.DangerousGetHandle()) != LibC.SIfreg)
        {
            throw new ContainerPathException(containerName, path, "it is not a regular file");
        }

        if (ownerShift != 0 && LibC.FChown((int)handle.DangerousGetHandle(), ownerShift, ownerShift) != 0)
        {
            throw new ContainerPathException(containerName, path, $"cannot give it to the container's root ({ownerShift}): {LibC.LastError()}");
        }

        var stream = new FileStream(handle, FileAccess.Write);
        await using (stream.ConfigureAwait(false))
        {
            await content.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task PullAsync(string containerName, int initPid, string path, Stream destination, CancellationToken cancellationToken)
    {
        var relative = CheckPath(containerName, path);
        using var handle = OpenInRoot(containerName, initPid, path, relative, LibC.ORdonly | LibC.OCloexec | LibC.ONonblock, 0);
        if (LibC.FileType((int)handle.DangerousGetHandle()) != LibC.SIfreg)
        {
            throw new ContainerPathException(containerName, path, "it is not a regular file (a directory, device, fifo or socket)");
        }

        var stream = new FileStream(handle, FileAccess.Read);
        await using (stream.ConfigureAwait(false))
        {
            await stream.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string CheckPath(string containerName, string path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ContainerPathException(containerName, path ?? "(null)", "give an absolute path inside the container, without NUL");
        }

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Contains(".."))
        {
            throw new ContainerPathException(containerName, path, "'..' is refused: give the path without it");
        }

        if (parts.Length == 0)
        {
            throw new ContainerPathException(containerName, path, "the root directory is not a file");
        }

        return string.Join('/', parts);
    }

    private static SafeFileHandle OpenInRoot(string containerName, int initPid, string path, string relative, int flags, ulong mode)
    {
        var rootPath = $"/proc/{initPid.ToString(CultureInfo.InvariantCulture)}/root";
        var rootFd = LibC.Open(rootPath, LibC.OPath | LibC.ODirectory | LibC.OCloexec);
        if (rootFd < 0)
        {
            throw new ContainerPathException(containerName, path, $"cannot open the container's root {rootPath}: {LibC.LastError()} (did it stop?)");
        }

        try
        {
            var how = new LibC.OpenHow { Flags = (ulong)flags, Mode = mode, Resolve = LibC.ResolveInRoot | LibC.ResolveNoMagicLinks };
            var fd = LibC.OpenAt2(rootFd, relative, ref how);
            if (fd < 0)
            {
                throw new ContainerPathException(containerName, path, $"{LibC.LastError()} (resolved inside the container's root, symlinks included)");
            }

            return new SafeFileHandle(fd, ownsHandle: true);
        }
        finally
        {
            LibC.Close(rootFd);
        }
    }
}
