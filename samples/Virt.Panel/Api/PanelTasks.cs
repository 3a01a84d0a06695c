using System.Collections.Concurrent;

namespace Virt.Panel.Api;

/// <summary>A long-running operation (migration, clone, start) the browser follows by id.</summary>
internal sealed class PanelTask(string id, string title)
{
    public string Id { get; } = id;

    public string Title { get; } = title;

    public string State { get; set; } = "running";

    public double Percent { get; set; }

    public string? Detail { get; set; }

    public string? Error { get; set; }

    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? Finished { get; set; }
}

/// <summary>Runs operations in the background and keeps their progress; the last 100 are kept.</summary>
internal sealed class PanelTasks(ILogger<PanelTasks> logger, Virt.Panel.Security.StatePaths statePaths)
{
    private readonly ConcurrentDictionary<string, PanelTask> _tasks = new(StringComparer.Ordinal);

    public IReadOnlyList<PanelTask> List() => _tasks.Values.OrderByDescending(task => task.Started).ToList();

    public PanelTask? Get(string id) => _tasks.GetValueOrDefault(id);

    public PanelTask Start(string title, Func<PanelTask, Task> work)
    {
        var task = new PanelTask(Guid.NewGuid().ToString("N")[..12], title);
        _tasks[task.Id] = task;
        foreach (var old in _tasks.Values.OrderByDescending(entry => entry.Started).Skip(100))
        {
            _tasks.TryRemove(old.Id, out _);
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await work(task);
                task.Percent = 100;
                task.State = "completed";
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "task {Title} failed", title);
                task.Error = statePaths.Redact(exception.Message);
                task.State = "failed";
            }
            finally
            {
                task.Finished = DateTimeOffset.UtcNow;
            }
        });
        return task;
    }
}
