namespace Virt.Tests;

/// <summary>What <c>/proc</c> says about a process (a source file linked into each test project that needs it).</summary>
internal static class ProcessTable
{
    /// <summary>Whether a process has ended: gone, or a zombie nobody reaped yet (PID 1 in a container may never reap).</summary>
    public static bool HasEnded(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }
}
