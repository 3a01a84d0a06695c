namespace Virt.VirtualMachines;

/// <summary>What the VM boots.</summary>
public enum VmFirmwareKind
{
    /// <summary>SeaBIOS (legacy BIOS), QEMU's default.</summary>
    SeaBios,

    /// <summary>UEFI through OVMF (Debian's <c>ovmf</c> package), with per-VM variables.</summary>
    Ovmf,

    /// <summary>A Linux kernel loaded directly (<c>-kernel</c>/<c>-initrd</c>/<c>-append</c>).</summary>
    DirectKernel,
}

/// <summary>Firmware settings.</summary>
public sealed record VmFirmware
{
    /// <summary>The kind of boot. Default SeaBIOS.</summary>
    public VmFirmwareKind Kind { get; init; } = VmFirmwareKind.SeaBios;

    /// <summary>A BIOS image to use instead of QEMU's default (e.g. qboot for the fastest direct kernel boot).</summary>
    public string? BiosPath { get; init; }

    /// <summary>The kernel for <see cref="VmFirmwareKind.DirectKernel"/>, or an EFI-stub kernel (bzImage) that OVMF boots without a disk.</summary>
    public string? KernelPath { get; init; }

    /// <summary>The initrd for <see cref="VmFirmwareKind.DirectKernel"/>.</summary>
    public string? InitrdPath { get; init; }

    /// <summary>The kernel command line for <see cref="VmFirmwareKind.DirectKernel"/>.</summary>
    public string? KernelCommandLine { get; init; }

    /// <summary>OVMF code image. Default <c>/usr/share/OVMF/OVMF_CODE_4M.fd</c>.</summary>
    public string OvmfCodePath { get; init; } = "/usr/share/OVMF/OVMF_CODE_4M.fd";

    /// <summary>OVMF variables template, copied per VM. Default <c>/usr/share/OVMF/OVMF_VARS_4M.fd</c>.</summary>
    public string OvmfVarsTemplatePath { get; init; } = "/usr/share/OVMF/OVMF_VARS_4M.fd";

    /// <summary>
    /// UEFI Secure Boot: QEMU emulates SMM and write-protects the firmware (q35 only). Use with a
    /// Secure Boot build of OVMF and a variables template with enrolled keys: see <see cref="OvmfSecureBoot"/>.
    /// </summary>
    public bool SecureBoot { get; init; }

    /// <summary>
    /// OVMF with Secure Boot enforced, from Debian's ovmf package: the SMM build
    /// (<c>OVMF_CODE_4M.secboot.fd</c>) and a variables template with Microsoft's keys enrolled
    /// (<c>OVMF_VARS_4M.ms.fd</c>), copied per VM.
    /// </summary>
    /// <returns>The firmware settings.</returns>
    public static VmFirmware OvmfSecureBoot() => new()
    {
        Kind = VmFirmwareKind.Ovmf,
        SecureBoot = true,
        OvmfCodePath = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
        OvmfVarsTemplatePath = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
    };
}
