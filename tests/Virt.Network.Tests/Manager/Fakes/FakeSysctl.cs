using System.Collections.Concurrent;
using Virt.Network.Host;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>/proc/sys as a dictionary: every key starts at 0, as in a fresh network namespace.</summary>
internal sealed class FakeSysctl : ISysctl
{
    public ConcurrentDictionary<string, int> Values { get; } = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<string>> TurnOnAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> changed = [.. keys.Where(key => Values.GetValueOrDefault(key) != 1)];
        foreach (var key in keys)
        {
            Values[key] = 1;
        }

        return Task.FromResult(changed);
    }
}
