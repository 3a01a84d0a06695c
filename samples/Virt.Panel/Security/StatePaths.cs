namespace Virt.Panel.Security;

/// <summary>Takes the state directory out of texts sent to clients (error bodies, task errors): it is replaced by <c>STATE</c>.</summary>
internal sealed class StatePaths(string stateDirectory)
{
    private readonly string _state = Path.TrimEndingDirectorySeparator(Path.GetFullPath(stateDirectory));

    public string Redact(string text) => _state.Length > 1 ? text.Replace(_state, "STATE", StringComparison.Ordinal) : text;
}
