using System.IO.Abstractions;
using Virt.IO;
using Virt.Networking;

namespace Virt.Network.Definitions;

/// <summary>
/// The state directory's files: <c>networks/NAME.json</c> (definitions), <c>applied/NAME.json</c> (each definition as
/// last applied to the host), <c>security-groups/NAME.json</c> and <c>ports/OWNER/NIC.json</c>, every one written
/// through <see cref="StateFile"/>. A <c>generation</c> file changes with every write, so that a snapshot read once is
/// reused until any process changes the directory: re-applying an unchanged configuration reads one small file
/// instead of a thousand port records.
/// </summary>
/// <remarks>Callers hold the state directory's lock around a read that leads to a write.</remarks>
internal sealed class NetworkStore
{
    private readonly IFileSystem _files;
    private readonly string _root;
    private readonly object _cacheGate = new();
    private (string Generation, NetworkState State)? _cache;

    public NetworkStore(IFileSystem files, string root)
    {
        _files = files;
        _root = root;
    }

    private string NetworksDirectory => Path.Combine(_root, "networks");

    private string AppliedDirectory => Path.Combine(_root, "applied");

    private string GroupsDirectory => Path.Combine(_root, "security-groups");

    private string PortsDirectory => Path.Combine(_root, "ports");

    private string GenerationFile => Path.Combine(_root, "generation");

    /// <summary>A state file's name part is one path component: 1-64 of a-z A-Z 0-9 . _ - : @, not starting with a dot.</summary>
    public static bool IsSafeName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '@');

    public async Task<NetworkState> ReadAsync(CancellationToken cancellationToken)
    {
        var generation = _files.File.Exists(GenerationFile) ? await _files.File.ReadAllTextAsync(GenerationFile, cancellationToken).ConfigureAwait(false) : string.Empty;
        lock (_cacheGate)
        {
            if (_cache is { } cached && cached.Generation == generation && generation.Length > 0)
            {
                return cached.State;
            }
        }

        var state = new NetworkState(
            await ReadAllAsync<NetworkDefinition>(NetworksDirectory, "network definition", d => d.Name, cancellationToken).ConfigureAwait(false),
            await ReadAllAsync<NetworkDefinition>(AppliedDirectory, "applied network definition", d => d.Name, cancellationToken).ConfigureAwait(false),
            await ReadAllAsync<SecurityGroup>(GroupsDirectory, "security group", g => g.Name, cancellationToken).ConfigureAwait(false),
            await ReadPortsAsync(cancellationToken).ConfigureAwait(false));
        lock (_cacheGate)
        {
            _cache = (generation, state);
        }

        return state;
    }

    public void WriteDefinition(NetworkDefinition definition) =>
        Write(NetworksDirectory, definition.Name, NetworkJson.Serialize(definition), s => s with { Definitions = With(s.Definitions, definition.Name, definition) });

    public void WriteApplied(NetworkDefinition definition) =>
        Write(AppliedDirectory, definition.Name, NetworkJson.Serialize(definition), s => s.WithApplied(definition));

    public void WriteGroup(SecurityGroup group) =>
        Write(GroupsDirectory, group.Name, NetworkJson.Serialize(group), s => s with { Groups = With(s.Groups, group.Name, group) });

    public void WritePort(PortRecord port) =>
        Write(Path.Combine(PortsDirectory, port.Request.Owner), port.Request.NicId, NetworkJson.Serialize(port), s => s.WithPort(port));

    /// <summary>Records many ports: all files through one <see cref="StateFile.WriteAll"/>, then one change of the generation for all of them.</summary>
    public void WritePorts(IReadOnlyCollection<PortRecord> ports)
    {
        var files = new Dictionary<string, byte[]>(ports.Count, StringComparer.Ordinal);
        foreach (var port in ports)
        {
            var directory = Path.Combine(PortsDirectory, port.Request.Owner);
            OwnerOnly.CreateDirectory(_files, directory);
            files[Path.Combine(directory, port.Request.NicId + ".json")] = NetworkJson.Serialize(port);
        }

        StateFile.WriteAll(_files, files, OwnerOnly.FileMode);
        Touch(s => s.WithPorts(ports));
    }

    public void DeleteDefinition(string name)
    {
        Delete(Path.Combine(AppliedDirectory, name + ".json"), s => s.WithoutApplied(name));
        Delete(Path.Combine(NetworksDirectory, name + ".json"), s => s with { Definitions = Without(s.Definitions, name) });
    }

    public void DeleteGroup(string name) => Delete(Path.Combine(GroupsDirectory, name + ".json"), s => s with { Groups = Without(s.Groups, name) });

    public void DeletePort(string owner, string nicId)
    {
        var directory = Path.Combine(PortsDirectory, owner);
        Delete(Path.Combine(directory, nicId + ".json"), s => s with { Ports = [.. s.Ports.Where(p => !NetworkState.SamePort(p, owner, nicId))] });
        if (_files.Directory.Exists(directory) && !_files.Directory.EnumerateFileSystemEntries(directory).Any())
        {
            _files.Directory.Delete(directory);
        }
    }

    private static Dictionary<string, T> With<T>(IReadOnlyDictionary<string, T> all, string name, T value) =>
        new(all, StringComparer.Ordinal) { [name] = value };

    private static Dictionary<string, T> Without<T>(IReadOnlyDictionary<string, T> all, string name)
    {
        var copy = new Dictionary<string, T>(all, StringComparer.Ordinal);
        copy.Remove(name);
        return copy;
    }

    private void Write(string directory, string name, byte[] json, Func<NetworkState, NetworkState> change)
    {
        OwnerOnly.CreateDirectory(_files, directory);
        StateFile.Write(_files, Path.Combine(directory, name + ".json"), json, OwnerOnly.FileMode);
        Touch(change);
    }

    private void Delete(string file, Func<NetworkState, NetworkState> change)
    {
        if (_files.File.Exists(file))
        {
            _files.File.Delete(file);
            Touch(change);
        }
    }

    /// <summary>
    /// Marks the directory changed, for every process's cached snapshot, and brings this one's snapshot along: writers hold
    /// the state directory's lock, so the snapshot they read under it plus their own change is the directory's new content
    /// (a thousand ports attached one by one do not each read every port back).
    /// </summary>
    private void Touch(Func<NetworkState, NetworkState> change)
    {
        var previous = _files.File.Exists(GenerationFile) ? _files.File.ReadAllText(GenerationFile) : string.Empty;
        var generation = Guid.NewGuid().ToString("N");
        OwnerOnly.CreateDirectory(_files, _root);
        StateFile.Write(_files, GenerationFile, System.Text.Encoding.ASCII.GetBytes(generation), OwnerOnly.FileMode);
        lock (_cacheGate)
        {
            _cache = _cache is { } cached && cached.Generation == previous && previous.Length > 0 ? (generation, change(cached.State)) : null;
        }
    }

    private async Task<Dictionary<string, T>> ReadAllAsync<T>(string directory, string what, Func<T, string> nameOf, CancellationToken cancellationToken)
        where T : class
    {
        var all = new Dictionary<string, T>(StringComparer.Ordinal);
        if (!_files.Directory.Exists(directory))
        {
            return all;
        }

        foreach (var file in _files.Directory.GetFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var value = NetworkJson.Deserialize<T>(await _files.File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), $"the {what} '{name}'", file);
            all[nameOf(value)] = value;
        }

        return all;
    }

    private async Task<List<PortRecord>> ReadPortsAsync(CancellationToken cancellationToken)
    {
        var ports = new List<PortRecord>();
        if (!_files.Directory.Exists(PortsDirectory))
        {
            return ports;
        }

        foreach (var owner in _files.Directory.GetDirectories(PortsDirectory).Order(StringComparer.Ordinal))
        {
            foreach (var file in _files.Directory.GetFiles(owner, "*.json").Order(StringComparer.Ordinal))
            {
                var what = $"the port record '{Path.GetFileName(owner)}/{Path.GetFileNameWithoutExtension(file)}'";
                ports.Add(NetworkJson.Deserialize<PortRecord>(await _files.File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), what, file));
            }
        }

        return ports;
    }
}
