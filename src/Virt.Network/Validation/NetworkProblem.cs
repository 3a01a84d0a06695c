using Virt.Networking;

namespace Virt.Network.Validation;

/// <summary>One thing wrong with a networking input: the field (a path such as <c>Ipv4.Reservations[1].MacAddress</c>) and a message naming the field, the bad value and the fix.</summary>
/// <param name="Field">The field's path within the validated object.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
internal sealed record NetworkProblem(string Field, string Message)
{
    /// <summary>
    /// The exception for a refused input (kind <see cref="VirtErrorKind.InvalidInput"/>), listing every problem at once, or
    /// <see langword="null"/> when there are none.
    /// </summary>
    /// <param name="subject">What was validated, e.g. "network 'lab'".</param>
    /// <param name="problems">Its problems.</param>
    public static NetworkException? ToException(string subject, IReadOnlyList<NetworkProblem> problems) =>
        problems.Count == 0
            ? null
            : new NetworkException(VirtErrorKind.InvalidInput, $"{subject} is invalid: " + string.Join("; ", problems.Select(p => p.Message)));
}

/// <summary>The problems of one validation, collected so that every one is reported at once.</summary>
internal sealed class ProblemList : List<NetworkProblem>
{
    /// <summary>Adds a problem of a field.</summary>
    public void Add(string field, string message) => Add(new NetworkProblem(field, message));

    /// <summary>Adds a problem when <paramref name="message"/> is not null (what the name rules return).</summary>
    public void AddIfAny(string field, string? message)
    {
        if (message is not null)
        {
            Add(field, message);
        }
    }
}
