using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Microsoft.Win32.SafeHandles;

namespace Virt.Lxc.Tests.Containers.Fakes;

/// <summary>
/// An in-memory host for the LXC backend: a cgroup2 mount in <c>/proc/self/mountinfo</c>, and a record of
/// the mode every file and directory was created or chmodded with (the mock itself keeps no modes). <see cref="FailCreating"/> makes
/// creating the files it picks fail as a full disk would.
/// </summary>
internal sealed class HostFileSystem : MockFileSystem
{
    public const string CgroupRoot = "/sys/fs/cgroup";

    private readonly IFileStreamFactory? _streams;
    private readonly IDirectory? _directory;
    private readonly IFile? _file;

    public HostFileSystem()
    {
        _streams = new ModeRecordingStreams(this);
        _directory = new ModeRecordingDirectory(this, base.Directory.GetCurrentDirectory());
        _file = new ModeRecordingFile(this);
        AddFile("/proc/self/mountinfo", new MockFileData($"35 24 0:30 / {CgroupRoot} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"));
        AddFile(CgroupRoot + "/cgroup.controllers", new MockFileData("cpuset cpu io memory pids\n"));
    }

    /// <summary>Each mode given, in order: at a file's creation (through a stream), a directory's creation, or a chmod.</summary>
    public List<(string Path, UnixFileMode Mode)> Modes { get; } = [];

    /// <summary>Picks the paths whose creation fails with "No space left on device".</summary>
    public Func<string, bool> FailCreating { get; set; } = _ => false;

    // MockFileSystem's constructor uses these before this one's body has run: its own until then.
    public override IFileStreamFactory FileStream => _streams ?? base.FileStream;

    public override IDirectory Directory => _directory ?? base.Directory;

    public override IFile File => _file ?? base.File;

    private sealed class ModeRecordingDirectory(HostFileSystem fileSystem, string currentDirectory) : MockDirectory(fileSystem, currentDirectory)
    {
        public override IDirectoryInfo CreateDirectory(string path, UnixFileMode unixCreateMode)
        {
            fileSystem.Modes.Add((path, unixCreateMode));
            return CreateDirectory(path);
        }
    }

    private sealed class ModeRecordingFile(HostFileSystem fileSystem) : MockFile(fileSystem)
    {
        public override void SetUnixFileMode(string path, UnixFileMode mode)
        {
            if (!Exists(path) && !fileSystem.Directory.Exists(path))
            {
                throw new FileNotFoundException($"'{path}' does not exist", path);
            }

            fileSystem.Modes.Add((path, mode));
        }
    }

    private sealed class ModeRecordingStreams(HostFileSystem fileSystem) : IFileStreamFactory
    {
        private readonly MockFileStreamFactory _inner = new(fileSystem);

        public IFileSystem FileSystem => fileSystem;

        public FileSystemStream New(string path, FileStreamOptions options)
        {
            if (fileSystem.FailCreating(path))
            {
                throw new IOException("No space left on device");
            }

            if (options.UnixCreateMode is { } mode)
            {
                fileSystem.Modes.Add((path, mode));
            }

            return _inner.New(path, options);
        }

        public FileSystemStream New(SafeFileHandle handle, FileAccess access) => _inner.New(handle, access);

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize) => _inner.New(handle, access, bufferSize);

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize, bool isAsync) => _inner.New(handle, access, bufferSize, isAsync);

        public FileSystemStream New(string path, FileMode mode) => _inner.New(path, mode);

        public FileSystemStream New(string path, FileMode mode, FileAccess access) => _inner.New(path, mode, access);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share) => _inner.New(path, mode, access, share);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize) => _inner.New(path, mode, access, share, bufferSize);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, bool useAsync) => _inner.New(path, mode, access, share, bufferSize, useAsync);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options) => _inner.New(path, mode, access, share, bufferSize, options);

        public FileSystemStream Wrap(FileStream fileStream) => _inner.Wrap(fileStream);
    }
}
