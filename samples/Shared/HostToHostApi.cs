using System.Text.Json;
using System.Text.Json.Serialization;
using Virt.VirtualMachines;

namespace Virt.Samples.HostToHost;

/// <summary>
/// What a source host sends a destination panel (<c>POST /api/host-to-host/incoming</c>) to have it get ready to
/// receive a VM: the spec, the source's name (only its certificate is then let in), whether the streams are TLS, and
/// the size of each disk the source copies over (its host-local files), for which the destination makes new images.
/// </summary>
internal sealed record IncomingVmRequest(VmSpec Spec, string? SourceHost = null, MigrationSecurity Security = MigrationSecurity.Tls, IReadOnlyDictionary<string, long>? LocalDiskSizes = null);

/// <summary>The wire names and the JSON of the host-to-host API, shared by the panel and virtctl (linked into both).</summary>
internal static class HostToHostApi
{
    /// <summary>The header that carries the host-to-host token (not <c>Authorization</c>: that is the panel user's secret).</summary>
    public const string TokenHeader = "X-Virt-Host-Token";

    /// <summary>Where a panel receives VMs from other hosts.</summary>
    public const string IncomingPath = "/api/host-to-host/incoming";

    /// <summary>The environment variable that holds the token when no file is configured.</summary>
    public const string TokenEnvironmentVariable = "VIRT_HOST_TOKEN";

    /// <summary>Reads a token file (Panel:HostTokenFile, virtctl's --token-file): the token on one line.</summary>
    public static string ReadTokenFile(string path)
    {
        try
        {
            return File.ReadAllText(path).TrimEnd('\r', '\n');
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read the host-to-host token from '{path}': {exception.Message}; create it (mode 0600) with the token on one line, the same on every host", exception);
        }
    }

    /// <summary>Whether others than the owner may read the token file.</summary>
    public static bool OthersMayRead(string path) => (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0;

    /// <summary>The panel's JSON: camelCase, enums by name.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
}
