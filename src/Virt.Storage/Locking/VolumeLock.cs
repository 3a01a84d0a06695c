using System.Globalization;

namespace Virt.Storage.Locking;

/// <summary>
/// An exclusive lock on a volume (or a pool) that holds across processes: an advisory <c>flock</c> on a
/// lock file (what .NET takes for <see cref="FileShare.None"/> on Linux), released by the kernel when the
/// holder dies. The holder writes who it is into a side file, so a waiter that gives up at its deadline
/// can say who holds the lock.
/// </summary>
internal sealed class VolumeLock : IDisposable
{
    private readonly FileStream _lock;
    private readonly string _holderFile;

    private VolumeLock(FileStream stream, string holderFile)
    {
        _lock = stream;
        _holderFile = holderFile;
    }

    public static async Task<VolumeLock> AcquireAsync(string directory, string name, string operation, TimeSpan timeout, Func<string, Exception> onTimeout, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".lock");
        var holder = Path.Combine(directory, name + ".holder");
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            try
            {
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                await File.WriteAllTextAsync(holder, $"pid {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}: {operation} since {DateTime.UtcNow:O}", cancellationToken).ConfigureAwait(false);
                return new VolumeLock(stream, holder);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
            }
            catch (IOException)
            {
                var who = File.Exists(holder) ? await File.ReadAllTextAsync(holder, cancellationToken).ConfigureAwait(false) : "an unknown holder";
                throw onTimeout($"it is locked by {who} (waited {timeout.TotalSeconds:0.#} s); try again when that finishes");
            }
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_holderFile);
        }
        finally
        {
            _lock.Dispose();
        }
    }
}
