using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Microsoft.Win32.SafeHandles;

namespace Virt.Tests;

/// <summary>
/// A <see cref="MockFileSystem"/>'s stream factory with one seam: <see cref="New(string, FileStreamOptions)"/>,
/// the form the SDK opens files with (mode at creation). Every other form goes to the mock unchanged.
/// </summary>
internal abstract class DelegatingFileStreamFactory(MockFileSystem fileSystem) : IFileStreamFactory
{
    protected MockFileStreamFactory Inner { get; } = new(fileSystem);

    public IFileSystem FileSystem => fileSystem;

    public virtual FileSystemStream New(string path, FileStreamOptions options) => Inner.New(path, options);

    public FileSystemStream New(SafeFileHandle handle, FileAccess access) => Inner.New(handle, access);

    public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize) => Inner.New(handle, access, bufferSize);

    public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize, bool isAsync) => Inner.New(handle, access, bufferSize, isAsync);

    public FileSystemStream New(string path, FileMode mode) => Inner.New(path, mode);

    public FileSystemStream New(string path, FileMode mode, FileAccess access) => Inner.New(path, mode, access);

    public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share) => Inner.New(path, mode, access, share);

    public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize) => Inner.New(path, mode, access, share, bufferSize);

    public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, bool useAsync) => Inner.New(path, mode, access, share, bufferSize, useAsync);

    public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options) => Inner.New(path, mode, access, share, bufferSize, options);

    public FileSystemStream Wrap(FileStream fileStream) => Inner.Wrap(fileStream);
}
