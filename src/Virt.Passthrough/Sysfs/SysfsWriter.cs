using System.IO.Abstractions;
using System.Text;

namespace Virt.Passthrough.Sysfs;

/// <summary>A sysfs write the kernel refused, or that did not finish in time.</summary>
internal sealed class SysfsWriteFailure(PciAddress device, string path, string value, string errorName, string hostMessage, bool timedOut, Exception? cause)
    : Exception($"writing '{value.TrimEnd('\n')}' to {path} failed: {hostMessage}", cause)
{
    public PciAddress Device { get; } = device;

    public string Path { get; } = path;

    public string Value { get; } = value;

    /// <summary>The errno's name (EBUSY, ENODEV...), TIMEOUT, or GONE when the file vanished with its device.</summary>
    public string ErrorName { get; } = errorName;

    public string HostMessage { get; } = hostMessage;

    public bool TimedOut { get; } = timedOut;
}

/// <summary>
/// Writes sysfs attributes the way the kernel expects: one unbuffered <c>write(2)</c> of the whole value
/// to a file opened without truncation, bounded by a deadline because some writes (unbind of a held
/// device) block in the kernel. A timed-out write's thread is left to finish; its outcome is re-read.
/// </summary>
internal sealed class SysfsWriter(IFileSystem fileSystem, TimeSpan timeout, TimeProvider time)
{
    // Linux x86-64 errno values, as .NET reports them in IOException.HResult on Unix.
    private static readonly Dictionary<int, string> ErrnoNames = new()
    {
        [1] = "EPERM", [2] = "ENOENT", [5] = "EIO", [11] = "EAGAIN", [12] = "ENOMEM", [13] = "EACCES", [16] = "EBUSY", [17] = "EEXIST",
        [19] = "ENODEV", [22] = "EINVAL", [25] = "ENOTTY", [28] = "ENOSPC", [34] = "ERANGE", [87] = "EUSERS", [95] = "EOPNOTSUPP",
    };

    public async Task WriteAsync(PciAddress device, string path, string value)
    {
        var write = Task.Factory.StartNew(() => WriteNow(path, value), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await write.WaitAsync(timeout, time).ConfigureAwait(false);
        }
        catch (TimeoutException exception)
        {
            throw new SysfsWriteFailure(device, path, value, "TIMEOUT", $"the kernel did not return within {timeout.TotalSeconds:0.#} s (a process or VM may hold the device)", timedOut: true, exception);
        }
        catch (FileNotFoundException exception)
        {
            throw new SysfsWriteFailure(device, path, value, "GONE", "the file does not exist (the device vanished, or the driver is not loaded)", timedOut: false, exception);
        }
        catch (DirectoryNotFoundException exception)
        {
            throw new SysfsWriteFailure(device, path, value, "GONE", "the directory does not exist (the device vanished, or the driver is not loaded)", timedOut: false, exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new SysfsWriteFailure(device, path, value, "EACCES", "permission denied (run as root)", timedOut: false, exception);
        }
        catch (IOException exception)
        {
            var name = ErrnoNames.GetValueOrDefault(exception.HResult, $"errno {exception.HResult}");
            throw new SysfsWriteFailure(device, path, value, name, $"{name}: {exception.Message}", timedOut: false, exception);
        }
    }

    private void WriteNow(string path, string value)
    {
        using var stream = fileSystem.FileStream.New(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 1);
        stream.Write(Encoding.ASCII.GetBytes(value));
    }
}
