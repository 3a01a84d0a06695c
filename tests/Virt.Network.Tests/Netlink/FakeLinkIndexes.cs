using Virt.Network.Netlink;

namespace Virt.Network.Tests.Netlink;

/// <summary>Fixed ifindexes for encoding tests.</summary>
internal sealed class FakeLinkIndexes(Dictionary<string, int> indexes, params string[] bridges) : ILinkIndexes
{
    public int IndexOf(string name) => indexes[name];

    public bool IsBridge(string name) => bridges.Contains(name);
}
