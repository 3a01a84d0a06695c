using System.Security.Cryptography;
using System.Text;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Stable names derived from a VM's name and a NIC id, so that they survive restarts.</summary>
internal static class MacAddresses
{
    /// <summary>A MAC in QEMU's locally used 52:54:00 range, the same for the same VM and NIC every time.</summary>
    /// <param name="vmName">The VM's name.</param>
    /// <param name="nicId">The NIC's id.</param>
    /// <returns>e.g. "52:54:00:3f:a1:07".</returns>
    public static string Derive(string vmName, string nicId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{vmName}/{nicId}"));
        return $"52:54:00:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}";
    }

    /// <summary>The host tap device name for a bridged NIC: "vt" + 10 hex digits (Linux allows 15 characters).</summary>
    /// <param name="vmName">The VM's name.</param>
    /// <param name="nicId">The NIC's id.</param>
    /// <returns>e.g. "vt3fa107c2d9".</returns>
    public static string TapName(string vmName, string nicId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"tap/{vmName}/{nicId}"));
        return "vt" + Convert.ToHexStringLower(hash, 0, 5);
    }
}
