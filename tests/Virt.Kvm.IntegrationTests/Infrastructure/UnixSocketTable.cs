namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>Reads the kernel's table of unix sockets in this network namespace (<c>/proc/net/unix</c>).</summary>
internal static class UnixSocketTable
{
    // __SO_ACCEPTCON: the flag the kernel sets once listen() has been called on the socket.
    private const int AcceptingConnections = 0x10000;

    /// <summary>Whether a socket bound to <paramref name="path"/> is listening.</summary>
    public static bool IsListening(string path)
    {
        // Columns: Num RefCount Protocol Flags Type St Inode Path (the path is last and may be absent).
        foreach (var line in File.ReadLines("/proc/net/unix").Skip(1))
        {
            var columns = line.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length == 8 && columns[7] == path && (Convert.ToInt32(columns[3], 16) & AcceptingConnections) != 0)
            {
                return true;
            }
        }

        return false;
    }
}
