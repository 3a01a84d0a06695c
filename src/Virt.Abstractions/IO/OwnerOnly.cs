namespace Virt.IO;

/// <summary>
/// The modes of what only the SDK's user (root on a host) may open: state files name devices, pids and
/// environment values, volumes hold whole disks. Give them at creation (<see cref="FileStreamOptions.UnixCreateMode"/>,
/// <c>Directory.CreateDirectory(path, mode)</c>): a chmod afterwards leaves a moment when another user can open the file and keep the handle.
/// </summary>
public static class OwnerOnly
{
    /// <summary>0600: read and write for the owner only.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0700: a directory only the owner may list or enter.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
}
