using System.Globalization;

namespace Virt.Storage.Interop;

/// <summary>
/// Whether a process is still running, asked of the host's /proc. This is a question about the host's
/// processes, not about the pool's files, so it does not go through the injected file system: a
/// temporary volume's builder lives on the real host whatever file system the pool is given.
/// </summary>
internal static class ProcessTable
{
    public static bool IsGone(int pid) => !Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
}
