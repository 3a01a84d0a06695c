using System.Runtime.InteropServices;
using System.Text;
using Virt.Networking;

namespace Virt.Network.Firewall;

/// <summary>
/// One libnftables context (<c>libnftables.so.1</c>) with JSON output and buffered output and errors. Its netlink socket
/// belongs to the namespace of the thread that creates it, so create and use it on a <see cref="Interop.NamespaceThread"/>.
/// </summary>
internal sealed partial class NftablesContext : IDisposable
{
    private const string Library = "libnftables.so.1";
    private const uint OutputJson = 1 << 4;

    private readonly IntPtr handle;

    private NftablesContext(IntPtr handle)
    {
        this.handle = handle;
    }

    /// <summary>Opens a context, or explains how to get libnftables.</summary>
    public static NftablesContext Open()
    {
        IntPtr handle;
        try
        {
            handle = NewContext(0);
        }
        catch (DllNotFoundException exception)
        {
            throw new NetworkException(
                VirtErrorKind.Refused,
                $"cannot load {Library} to manage the firewall: {exception.Message}; install the nftables package (Debian: apt-get install nftables)",
                exception);
        }

        if (handle == IntPtr.Zero)
        {
            throw new NetworkException(VirtErrorKind.Refused, "nft_ctx_new returned no context (out of memory?); retry");
        }

        SetOutputFlags(handle, OutputJson);
        BufferOutput(handle);
        BufferError(handle);
        return new NftablesContext(handle);
    }

    /// <summary>Runs a JSON command document (a transaction when it holds several commands) and returns nft's output.</summary>
    /// <returns>Whether it succeeded, what it printed (JSON listings) and its error text.</returns>
    public unsafe (bool Succeeded, string Output, string Error) Run(ReadOnlySpan<byte> utf8Json)
    {
        // libnftables wants a NUL-terminated C string; a ruleset of thousands of ports is megabytes, so no stack copy.
        var buffer = new byte[utf8Json.Length + 1];
        utf8Json.CopyTo(buffer);
        int result;
        fixed (byte* text = buffer)
        {
            result = RunFromBuffer(handle, text);
        }

        return (result == 0, Marshal.PtrToStringUTF8(OutputBuffer(handle)) ?? "", Marshal.PtrToStringUTF8(ErrorBuffer(handle)) ?? "");
    }

    /// <summary>Runs a JSON command document given as text.</summary>
    public (bool Succeeded, string Output, string Error) Run(string json) => Run(Encoding.UTF8.GetBytes(json));

    /// <summary>Frees the context (and closes its socket).</summary>
    public void Dispose() => FreeContext(handle);

    [LibraryImport(Library, EntryPoint = "nft_ctx_new")]
    private static partial IntPtr NewContext(uint flags);

    [LibraryImport(Library, EntryPoint = "nft_ctx_free")]
    private static partial void FreeContext(IntPtr context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_output_set_flags")]
    private static partial void SetOutputFlags(IntPtr context, uint flags);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_output")]
    private static partial int BufferOutput(IntPtr context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_error")]
    private static partial int BufferError(IntPtr context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_get_output_buffer")]
    private static partial IntPtr OutputBuffer(IntPtr context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_get_error_buffer")]
    private static partial IntPtr ErrorBuffer(IntPtr context);

    [LibraryImport(Library, EntryPoint = "nft_run_cmd_from_buffer")]
    private static unsafe partial int RunFromBuffer(IntPtr context, byte* buffer);
}
