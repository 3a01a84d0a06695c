using System.IO.Abstractions;
using Virt.IO;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Binding;

/// <summary>
/// One change to the host's PCI bindings at a time, across processes: an exclusive lock on
/// <c>StateDirectory/lock</c> (a FileShare.None open is an flock on Linux, released by the kernel if the
/// holder dies), waited for up to <see cref="PassthroughOptions.LockTimeout"/>.
/// </summary>
internal sealed class HostLock(IFileSystem fileSystem, PassthroughOptions options)
{
    public async Task<IDisposable> AcquireAsync(CancellationToken cancellationToken)
    {
        OwnerOnly.CreateDirectory(fileSystem, options.StateDirectory);
        var path = fileSystem.Path.Combine(options.StateDirectory, "lock");
        var deadline = DateTime.UtcNow + options.LockTimeout;
        while (true)
        {
            try
            {
                return fileSystem.FileStream.New(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, UnixCreateMode = OwnerOnly.FileMode });
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException exception)
            {
                throw new TimeoutException($"another process has held {path} for {options.LockTimeout.TotalSeconds:0} s while changing PCI bindings: wait for it, or find it with fuser {path}", exception);
            }
        }
    }
}
