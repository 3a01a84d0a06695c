using Virt.Network.Interop;
using Virt.Networking;

namespace Virt.Network.Host;

/// <summary>The managed namespace's kernel switches the manager turns on (IP forwarding); faked in unit tests.</summary>
internal interface ISysctl
{
    /// <summary>Sets each key (a path under /proc/sys) to 1 where it is not; returns the keys it changed.</summary>
    Task<IReadOnlyList<string>> TurnOnAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken);
}

/// <summary>/proc/sys, read and written from inside the managed namespace (it answers for the opening thread's namespace).</summary>
internal sealed class ProcSysctl(string? networkNamespace) : ISysctl
{
    public Task<IReadOnlyList<string>> TurnOnAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return NamespaceThread.RunAsync<IReadOnlyList<string>>(networkNamespace, () => [.. keys.Where(TurnOn)]);
    }

    private static bool TurnOn(string key)
    {
        if (!File.Exists(key))
        {
            throw new NetworkException(VirtErrorKind.Refused, $"a NAT or routed network needs IP forwarding, but {key} does not exist: this kernel lacks that IP version");
        }

        if (File.ReadAllText(key).Trim() == "1")
        {
            return false;
        }

        try
        {
            File.WriteAllText(key, "1\n");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new NetworkException(VirtErrorKind.Refused, $"cannot turn on IP forwarding ({key}) that a NAT or routed network needs: {exception.Message}; run as root, or set it yourself (sysctl -w {key["/proc/sys/".Length..].Replace('/', '.')}=1)", exception);
        }

        return true;
    }
}
