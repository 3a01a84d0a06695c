using System.Text.Json.Nodes;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>The <c>ram</c> member of a <c>query-migrate</c> reply, with every field QEMU 7.2 sends, for fake QMP servers.</summary>
internal static class QueryMigrateReplies
{
    public static JsonObject Ram(long transferred, long remaining, long passes) => new()
    {
        ["transferred"] = transferred, ["remaining"] = remaining, ["total"] = 268771328, ["duplicate"] = 0, ["normal"] = 0, ["normal-bytes"] = 0,
        ["dirty-pages-rate"] = 0, ["mbps"] = 0, ["dirty-sync-count"] = passes, ["postcopy-requests"] = 0, ["page-size"] = 4096,
        ["multifd-bytes"] = 0, ["pages-per-second"] = 0, ["precopy-bytes"] = 0, ["downtime-bytes"] = 0, ["postcopy-bytes"] = 0,
        ["dirty-sync-missed-zero-copy"] = 0, ["skipped"] = 0,
    };
}
