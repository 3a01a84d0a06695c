using System.IO.Abstractions;

namespace Virt.Passthrough.Binding;

/// <summary>
/// The passthrough state (journal, lock) is root's alone: it names which devices are bound and which
/// drivers to restore, so other local users may neither read nor plant files there. Modes are given at
/// creation (a chmod afterwards leaves a window in which the file is open to everyone).
/// </summary>
internal static class PrivateState
{
    public const UnixFileMode DirectoryPermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FilePermissions = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void CreateDirectory(IFileSystem fileSystem, string path)
    {
        if (!fileSystem.Directory.Exists(path))
        {
            fileSystem.Directory.CreateDirectory(path, DirectoryPermissions);
        }
    }

    public static FileSystemStream CreateFile(IFileSystem fileSystem, string path) =>
        fileSystem.FileStream.New(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = FilePermissions });
}
