using System.Text;
using System.Text.Json.Nodes;
using Virt.VirtualMachines;

namespace Virt.Kvm.CloudInit;

/// <summary>
/// Renders a <see cref="CloudInitSpec"/> as a NoCloud seed: <c>user-data</c> (<c>#cloud-config</c>),
/// <c>meta-data</c> and <c>network-config</c>, each written as JSON — which is valid YAML — so every
/// value is escaped by the JSON writer and none can start a new YAML key. Packed into an ISO 9660
/// image labelled <c>cidata</c>.
/// </summary>
internal static class NoCloudSeed
{
    /// <summary>The volume label cloud-init looks for.</summary>
    public const string VolumeLabel = "cidata";

    /// <summary>The three seed files.</summary>
    /// <param name="vmName">The VM's name (the default instance id).</param>
    /// <param name="spec">The cloud-init spec (validated with the VM's spec).</param>
    /// <returns>File name to content.</returns>
    public static IReadOnlyDictionary<string, byte[]> Render(string vmName, CloudInitSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var meta = new JsonObject { ["instance-id"] = spec.InstanceId ?? vmName };
        if (spec.Hostname is { } hostname)
        {
            meta["local-hostname"] = hostname;
        }

        var user = new JsonObject();
        if (spec.Hostname is { } name)
        {
            user["hostname"] = name;
        }

        if (spec.Users.Count > 0)
        {
            user["users"] = new JsonArray(spec.Users.Select(User).ToArray<JsonNode?>());
        }

        if (spec.Packages.Count > 0)
        {
            user["packages"] = Strings(spec.Packages);
        }

        if (spec.WriteFiles.Count > 0)
        {
            user["write_files"] = new JsonArray(spec.WriteFiles.Select(File).ToArray<JsonNode?>());
        }

        if (spec.RunCommands.Count > 0)
        {
            user["runcmd"] = new JsonArray(spec.RunCommands.Select(c => (JsonNode?)Strings(c)).ToArray());
        }

        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["meta-data"] = Encoding.UTF8.GetBytes(meta.ToJsonString() + "\n"),
            ["user-data"] = Encoding.UTF8.GetBytes("#cloud-config\n" + user.ToJsonString() + "\n"),
        };
        if (spec.Ethernets is { } ethernets)
        {
            var nics = new JsonObject();
            foreach (var nic in ethernets)
            {
                var entry = new JsonObject
                {
                    ["match"] = new JsonObject { ["macaddress"] = nic.MacAddress.ToLowerInvariant() },
                    ["set-name"] = nic.Name,
                    ["dhcp4"] = nic.Dhcp4,
                };
                if (nic.Addresses.Count > 0)
                {
                    entry["addresses"] = Strings(nic.Addresses);
                }

                if (nic.Gateway4 is { } gateway)
                {
                    entry["gateway4"] = gateway;
                }

                if (nic.Nameservers.Count > 0)
                {
                    entry["nameservers"] = new JsonObject { ["addresses"] = Strings(nic.Nameservers) };
                }

                nics[nic.Name] = entry;
            }

            files["network-config"] = Encoding.UTF8.GetBytes(new JsonObject { ["version"] = 2, ["ethernets"] = nics }.ToJsonString() + "\n");
        }

        return files;
    }

    /// <summary>The seed as an ISO 9660 image labelled <c>cidata</c>.</summary>
    /// <param name="vmName">The VM's name.</param>
    /// <param name="spec">The cloud-init spec.</param>
    /// <param name="timestamp">The image's recording time.</param>
    /// <returns>The image's bytes.</returns>
    public static byte[] BuildIso(string vmName, CloudInitSpec spec, DateTimeOffset timestamp) =>
        Iso9660Writer.Build(VolumeLabel, Render(vmName, spec), timestamp);

    private static JsonObject User(CloudInitUser user)
    {
        var entry = new JsonObject { ["name"] = user.Name };
        if (user.SshAuthorizedKeys.Count > 0)
        {
            entry["ssh_authorized_keys"] = Strings(user.SshAuthorizedKeys);
        }

        if (user.PasswordHash is { } hash)
        {
            entry["passwd"] = hash;
            entry["lock_passwd"] = false;
        }

        if (user.Sudo is { } sudo)
        {
            entry["sudo"] = sudo;
        }

        if (user.Groups.Count > 0)
        {
            entry["groups"] = string.Join(',', user.Groups);
        }

        if (user.Shell is { } shell)
        {
            entry["shell"] = shell;
        }

        return entry;
    }

    private static JsonObject File(CloudInitFile file)
    {
        var entry = new JsonObject { ["path"] = file.Path, ["content"] = file.Content };
        if (file.Permissions is { } permissions)
        {
            entry["permissions"] = permissions;
        }

        if (file.Owner is { } owner)
        {
            entry["owner"] = owner;
        }

        return entry;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
