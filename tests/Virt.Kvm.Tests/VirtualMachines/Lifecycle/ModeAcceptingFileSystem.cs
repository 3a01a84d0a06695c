using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;

namespace Virt.Kvm.Tests.VirtualMachines.Lifecycle;

/// <summary>
/// A <see cref="MockFileSystem"/> that accepts the mode-taking CreateDirectory (it keeps no Unix modes and
/// throws on it); the SDK creates a VM's directory 0700 at creation.
/// </summary>
internal sealed class ModeAcceptingFileSystem : IFileSystem
{
    public ModeAcceptingFileSystem() => Directory = new ModeAcceptingDirectory(Mock);

    /// <summary>The files themselves.</summary>
    public MockFileSystem Mock { get; } = new();

    public IDirectory Directory { get; }

    public IDirectoryInfoFactory DirectoryInfo => Mock.DirectoryInfo;

    public IDriveInfoFactory DriveInfo => Mock.DriveInfo;

    public IFile File => Mock.File;

    public IFileInfoFactory FileInfo => Mock.FileInfo;

    public IFileStreamFactory FileStream => Mock.FileStream;

    public IFileSystemWatcherFactory FileSystemWatcher => Mock.FileSystemWatcher;

    public IFileVersionInfoFactory FileVersionInfo => Mock.FileVersionInfo;

    public IPath Path => Mock.Path;

    public IRandomAccess RandomAccess => Mock.RandomAccess;

    private sealed class ModeAcceptingDirectory(MockFileSystem files) : MockDirectory(files, "/")
    {
        public override IDirectoryInfo CreateDirectory(string path, UnixFileMode unixCreateMode) => CreateDirectory(path);
    }
}
