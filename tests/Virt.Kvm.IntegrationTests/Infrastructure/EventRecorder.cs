using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>
/// A logger factory that keeps every QMP event the SDK logs (event id 2003), so that the tests can
/// check each one reads into its generated class.
/// </summary>
internal sealed class EventRecorder : ILoggerFactory, ILogger
{
    private const int QmpEventLogId = 2003;

    public ConcurrentQueue<string> Events { get; } = new();

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id == QmpEventLogId && state is IReadOnlyList<KeyValuePair<string, object?>> values
            && values.FirstOrDefault(v => v.Key == "Message").Value is string message)
        {
            Events.Enqueue(message);
        }
    }

    /// <summary>Every recorded event that does not read into its generated class, with why.</summary>
    public List<string> Untyped() => Events.Select(QmpApiChecks.CheckEvent).OfType<string>().ToList();
}
