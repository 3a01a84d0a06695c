using System.IO.Abstractions;
using System.Text;
using Virt.Passthrough.Interop;

namespace Virt.Passthrough.Sysfs;

/// <summary>
/// Reads small sysfs attributes and links. Through any <see cref="IFileSystem"/> (a fake kernel in tests);
/// on the real one with plain system calls, which is what makes enumerating a large host cheap. Both
/// answer the same: the text (whole — sysfs fills an attribute in one read) or null when it is absent.
/// </summary>
internal sealed class SysfsFiles(IFileSystem fileSystem)
{
    private const int Page = 4096;
    private readonly bool _native = fileSystem is FileSystem && OperatingSystem.IsLinux();

    public IFileSystem FileSystem => fileSystem;

    /// <summary>Whether reads may run on several threads at once (the real file system; fakes need not be thread-safe).</summary>
    public bool IsThreadSafe => _native;

    public string? ReadText(string path)
    {
        Span<byte> buffer = stackalloc byte[Page];
        var length = Read(path, buffer);
        return length < 0 ? null : Encoding.ASCII.GetString(buffer[..length]).Trim();
    }

    /// <summary>The last path component of a link's target (a driver's or a group's name), or null when it is no link.</summary>
    public string? LinkName(string path)
    {
        string? target;
        if (_native)
        {
            target = NativeReadLink(path);
        }
        else
        {
            target = fileSystem.FileInfo.New(path).LinkTarget;
        }

        return target is null ? null : fileSystem.Path.GetFileName(target.TrimEnd('/'));
    }

    /// <summary>Reads from the start of a file into the buffer; -1 when it does not exist.</summary>
    private int Read(string path, Span<byte> buffer)
    {
        if (_native)
        {
            return NativeRead(path, buffer);
        }

        if (!fileSystem.File.Exists(path))
        {
            return -1;
        }

        try
        {
            using var stream = fileSystem.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
            var length = 0;
            int read;
            while (length < buffer.Length && (read = stream.Read(buffer[length..])) > 0)
            {
                length += read;
            }

            return length;
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return -1;
        }
    }

    private static unsafe int NativeRead(string path, Span<byte> buffer)
    {
        var fd = LibC.Open(path, LibC.ORdonly | LibC.OCloexec);
        if (fd < 0)
        {
            return -1;
        }

        try
        {
            fixed (byte* start = buffer)
            {
                var length = 0;
                while (length < buffer.Length)
                {
                    var read = LibC.Read(fd, start + length, (nuint)(buffer.Length - length));
                    if (read <= 0)
                    {
                        break;
                    }

                    length += (int)read;

                    // One read returns a whole attribute; only a full page can have more behind it.
                    if (length % Page != 0)
                    {
                        break;
                    }
                }

                return length;
            }
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    private static unsafe string? NativeReadLink(string path)
    {
        Span<byte> buffer = stackalloc byte[Page];
        fixed (byte* start = buffer)
        {
            var length = LibC.ReadLink(path, start, (nuint)buffer.Length);
            return length <= 0 ? null : Encoding.UTF8.GetString(buffer[..(int)length]);
        }
    }
}
