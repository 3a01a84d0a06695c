using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.Hosting;

/// <summary>Settings of the KVM backend.</summary>
public sealed class KvmOptions
{
    /// <summary>Deadlines and limits of QMP connections.</summary>
    public QmpClientOptions Qmp { get; set; } = new();

    /// <summary>Deadlines of guest-agent connections.</summary>
    public GuestAgentOptions GuestAgent { get; set; } = new();
}
