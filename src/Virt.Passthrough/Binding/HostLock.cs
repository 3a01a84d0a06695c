using System.IO.Abstractions;
using Virt.IO;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Binding;

/// <summary>
/// One change to the host's PCI bindings at a time, across processes: an exclusive lock on
/// <c>StateDirectory/lock</c> (a FileShare.None open is an flock on Linux, released by the kernel if the
/// holder dies), waited for up to <see cref="PassthroughOptions.LockTimeout"/>.
/// </summary>
internal sealed class HostLock(IFileSystem fileSystem, PassthroughOptions options, TimeProvider time)
{
    public async Task<IDisposable> AcquireAsync(CancellationToken cancellationToken)
    {
        OwnerOnly.CreateDirectory(fileSystem, options.StateDirectory);
        var path = fileSystem.Path.Combine(options.StateDirectory, "lock");
        var deadline = time.GetUtcNow() + options.LockTimeout;
        while (true)
        {
            try
            {
                return OwnerOnly.Open(fileSystem, path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
            }
            catch (IOException) when (time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException exception)
            {
                throw new TimeoutException($"another process has held {path} for {options.LockTimeout.TotalSeconds:0} s while changing PCI bindings: wait for it, or find it with fuser {path}", exception);
            }
        }
    }
}
