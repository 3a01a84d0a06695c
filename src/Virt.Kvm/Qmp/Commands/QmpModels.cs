using System.Text.Json;
using System.Text.Json.Serialization;

namespace Virt.Kvm.Qmp;

/// <summary>The reply to <c>query-status</c>.</summary>
public sealed record QmpStatusInfo
{
    /// <summary>Whether the vCPUs are running.</summary>
    public bool Running { get; init; }

    /// <summary>The run state: "prelaunch", "running", "paused", "shutdown", "inmigrate", "guest-panicked"...</summary>
    public string Status { get; init; } = string.Empty;

    /// <summary>Members this SDK version does not model, kept so nothing is lost.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>A QEMU version triple as QMP reports it.</summary>
public sealed record QmpVersionTriple
{
    /// <summary>Major version.</summary>
    public int Major { get; init; }

    /// <summary>Minor version.</summary>
    public int Minor { get; init; }

    /// <summary>Micro version.</summary>
    public int Micro { get; init; }
}

/// <summary>The reply to <c>query-version</c>.</summary>
public sealed record QmpVersionInfo
{
    /// <summary>QEMU's version.</summary>
    public QmpVersionTriple Qemu { get; init; } = new();

    /// <summary>The distribution's package string.</summary>
    public string Package { get; init; } = string.Empty;
}

/// <summary>The reply to <c>query-name</c>.</summary>
public sealed record QmpNameInfo
{
    /// <summary>The VM's <c>-name</c>, or <see langword="null"/> when it has none.</summary>
    public string? Name { get; init; }
}

/// <summary>The medium inserted in a block device (an entry of <c>query-block</c>).</summary>
public sealed record QmpBlockDeviceInfo
{
    /// <summary>The image file name.</summary>
    public string File { get; init; } = string.Empty;

    /// <summary>The node name of the top block node.</summary>
    public string? NodeName { get; init; }

    /// <summary>Whether it is read-only.</summary>
    [JsonPropertyName("ro")]
    public bool ReadOnly { get; init; }

    /// <summary>The format driver, e.g. "qcow2", "raw".</summary>
    [JsonPropertyName("drv")]
    public string Driver { get; init; } = string.Empty;

    /// <summary>Members this SDK version does not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>An entry of <c>query-block</c>.</summary>
public sealed record QmpBlockInfo
{
    /// <summary>The legacy drive name (empty for <c>-blockdev</c> devices).</summary>
    public string Device { get; init; } = string.Empty;

    /// <summary>The qdev id or QOM path of the device.</summary>
    public string? Qdev { get; init; }

    /// <summary>Whether the medium can be removed (CD-ROM).</summary>
    public bool Removable { get; init; }

    /// <summary>Whether the tray is locked.</summary>
    public bool Locked { get; init; }

    /// <summary>The inserted medium, or <see langword="null"/> when empty.</summary>
    public QmpBlockDeviceInfo? Inserted { get; init; }

    /// <summary>Members this SDK version does not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>An entry of <c>query-cpus-fast</c>.</summary>
public sealed record QmpCpuInfoFast
{
    /// <summary>The vCPU index.</summary>
    public int CpuIndex { get; init; }

    /// <summary>The vCPU's QOM path.</summary>
    public string QomPath { get; init; } = string.Empty;

    /// <summary>The host thread id running this vCPU (for pinning).</summary>
    public int ThreadId { get; init; }

    /// <summary>The target architecture, e.g. "x86_64".</summary>
    public string Target { get; init; } = string.Empty;

    /// <summary>Topology properties (socket, core, thread, node ids).</summary>
    public JsonElement? Props { get; init; }

    /// <summary>Members this SDK version does not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The reply to <c>add-fd</c>: where QEMU filed the passed descriptor.</summary>
public sealed record QmpAddFdInfo
{
    /// <summary>The fd set; open it in QEMU as <c>/dev/fdset/N</c>.</summary>
    public int FdsetId { get; init; }

    /// <summary>QEMU's own number for the descriptor.</summary>
    public int Fd { get; init; }
}
