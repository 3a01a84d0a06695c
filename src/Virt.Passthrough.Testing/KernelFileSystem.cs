using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Virt.Passthrough.Testing;

/// <summary>
/// The file system a fake host hands out: its MockFileSystem, except that writes to kernel attributes
/// (through FileStream or File.WriteAll*) go to the fake kernel, which changes the tree as Linux would.
/// </summary>
internal sealed class KernelFileSystem : IFileSystem
{
    private readonly MockFileSystem _files;

    public KernelFileSystem(FakePciHost host, MockFileSystem files)
    {
        _files = files;
        File = new KernelFile(host, files);
        FileStream = new KernelFileStreamFactory(host, this, files);
        Directory = new ModeAcceptingDirectory(files);
    }

    public IDirectory Directory { get; }

    public IDirectoryInfoFactory DirectoryInfo => _files.DirectoryInfo;

    public IDriveInfoFactory DriveInfo => _files.DriveInfo;

    public IFile File { get; }

    public IFileInfoFactory FileInfo => _files.FileInfo;

    public IFileStreamFactory FileStream { get; }

    public IFileSystemWatcherFactory FileSystemWatcher => _files.FileSystemWatcher;

    public IFileVersionInfoFactory FileVersionInfo => _files.FileVersionInfo;

    public IPath Path => _files.Path;

    public IRandomAccess RandomAccess => _files.RandomAccess;

    private sealed class KernelFile(FakePciHost host, MockFileSystem files) : MockFile(files)
    {
        public override void WriteAllText(string path, string? contents)
        {
            if (!host.Kernel.TryWrite(path, contents ?? string.Empty))
            {
                base.WriteAllText(path, contents);
            }
        }

        public override void WriteAllText(string path, string? contents, Encoding encoding)
        {
            if (!host.Kernel.TryWrite(path, contents ?? string.Empty))
            {
                base.WriteAllText(path, contents, encoding);
            }
        }

        public override void WriteAllBytes(string path, byte[] bytes)
        {
            if (!host.Kernel.TryWrite(path, Encoding.ASCII.GetString(bytes)))
            {
                base.WriteAllBytes(path, bytes);
            }
        }
    }

    /// <summary>
    /// MockFileSystem keeps no Unix modes and throws on the mode-taking CreateDirectory; the SDK creates
    /// its private state directories with a mode (0700 at creation), so the fake accepts it and ignores it.
    /// </summary>
    private sealed class ModeAcceptingDirectory(MockFileSystem files) : MockDirectory(files, files.Directory.GetCurrentDirectory())
    {
        public override IDirectoryInfo CreateDirectory(string path, UnixFileMode unixCreateMode) => CreateDirectory(path);
    }

    private sealed class KernelFileStreamFactory(FakePciHost host, IFileSystem owner, MockFileSystem files) : IFileStreamFactory
    {
        private readonly MockFileStreamFactory _inner = new(files);

        public IFileSystem FileSystem => owner;

        public FileSystemStream New(SafeFileHandle handle, FileAccess access) => _inner.New(handle, access);

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize) => _inner.New(handle, access, bufferSize);

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize, bool isAsync) => _inner.New(handle, access, bufferSize, isAsync);

        public FileSystemStream New(string path, FileMode mode) => Open(path, mode, FileAccess.ReadWrite) ?? _inner.New(path, mode);

        public FileSystemStream New(string path, FileMode mode, FileAccess access) => Open(path, mode, access) ?? _inner.New(path, mode, access);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share) => Open(path, mode, access) ?? _inner.New(path, mode, access, share);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize) => Open(path, mode, access) ?? _inner.New(path, mode, access, share, bufferSize);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, bool useAsync) => Open(path, mode, access) ?? _inner.New(path, mode, access, share, bufferSize, useAsync);

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options) => Open(path, mode, access) ?? _inner.New(path, mode, access, share, bufferSize, options);

        public FileSystemStream New(string path, FileStreamOptions options) => Open(path, options.Mode, options.Access) ?? _inner.New(path, options);

        public FileSystemStream Wrap(FileStream fileStream) => _inner.Wrap(fileStream);

        private KernelAttributeStream? Open(string path, FileMode mode, FileAccess access)
        {
            if ((access & FileAccess.Write) == 0 || !host.Kernel.IsAttribute(path))
            {
                return null;
            }

            // Opening a vanished device's attribute fails like open(2) would.
            if (!files.File.Exists(path))
            {
                throw new FileNotFoundException($"Could not find file '{path}'", path);
            }

            _ = mode;
            return new KernelAttributeStream(host, path);
        }
    }
}
