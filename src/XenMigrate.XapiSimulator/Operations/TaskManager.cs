using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// XAPI tasks: created by <c>task.create</c>, by every <c>Async.</c> call and by the HTTP
/// transfers; background work reports progress, result (XML-RPC encoded) or error_info into them,
/// and <c>task.cancel</c> reaches the work through a cancellation token.
/// </summary>
internal sealed class TaskManager
{
    /// <summary>xapi garbage-collects finished tasks after about 65 minutes.</summary>
    private static readonly TimeSpan FinishedTaskLifetime = TimeSpan.FromMinutes(65);

    private readonly PoolRuntime _host;
    private readonly Dictionary<string, CancellationTokenSource> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _finishedAt = new(StringComparer.Ordinal);
    private readonly Lock _runningSync = new();
    private int _outstanding;

    public TaskManager(PoolRuntime host)
    {
        _host = host;
    }

    private XapiDatabase Db => _host.Database;

    /// <summary>Background tasks still running (lets the host drain them on shutdown).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Creates a pending task, listed in its session's tasks. Call under the database lock.</summary>
    public XapiObject Create(string label, string description, string? session, string residentOn)
    {
        var task = CreateUnlisted(label, description, residentOn);
        if (session is not null && Db.Find("session", session) is { } s) s.AddToSet("tasks", task.Ref);
        return task;
    }

    /// <summary>
    /// Removes a task and its mention in the sessions' task lists. Call under the database lock.
    /// </summary>
    public void Destroy(XapiObject task)
    {
        foreach (var session in Db.All("session").Where(s => s.GetStrings("tasks").Contains(task.Ref, StringComparer.Ordinal)).ToList())
            session.RemoveFromSet("tasks", task.Ref);
        _finishedAt.Remove(task.Ref);
        Db.Destroy(task);
    }

    /// <summary>
    /// A task that only stands for a synchronous call while it runs (as xapi makes one for every
    /// call); it is destroyed when the call returns. Call under the database lock.
    /// </summary>
    public XapiObject CreateUnlisted(string label, string description, string residentOn)
    {
        CollectOldTasks();
        var task = Db.Create("task", new Dictionary<string, JsonNode?>
        {
            ["name_label"] = label,
            ["name_description"] = description,
            ["created"] = _host.Now(),
            ["finished"] = XapiDateTime.Epoch,
            ["status"] = "pending",
            ["resident_on"] = residentOn,
            ["progress"] = 0.0,
            ["type"] = "<none/>",
            ["result"] = string.Empty,
            ["error_info"] = new JsonArray(),
            ["allowed_operations"] = new JsonArray("cancel"),
        });
        return task;
    }

    /// <summary>Runs work in the background on behalf of a task and records its outcome in it.</summary>
    public void Run(string taskRef, Func<CancellationToken, ValueTask<JsonNode?>> work)
    {
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(_host.Stopping);
        lock (_runningSync) _running[taskRef] = cancellation;
        Interlocked.Increment(ref _outstanding);
        _ = Task.Run(async () =>
        {
            try
            {
                var result = await work(cancellation.Token);
                Succeed(taskRef, result);
            }
            catch (Exception e)
            {
                Fail(taskRef, e, cancellation.IsCancellationRequested);
            }
            finally
            {
                lock (_runningSync) _running.Remove(taskRef);
                cancellation.Dispose();
                Interlocked.Decrement(ref _outstanding);
            }
        });
    }

    /// <summary>Binds a task to work running elsewhere (an HTTP transfer) so task.cancel can stop it.</summary>
    public IDisposable Attach(string taskRef, CancellationTokenSource cancellation)
    {
        lock (_runningSync) _running[taskRef] = cancellation;
        return new Detach(() =>
        {
            lock (_runningSync) _running.Remove(taskRef);
        });
    }

    public void SetProgress(string taskRef, double progress)
    {
        lock (Db.Sync)
        {
            if (Db.Find("task", taskRef) is { } task && task.GetString("status") == "pending")
                task.Set("progress", Math.Clamp(progress, 0, 1));
        }
    }

    public void Succeed(string taskRef, JsonNode? result)
    {
        lock (Db.Sync)
        {
            if (Db.Find("task", taskRef) is not { } task || IsFinished(task)) return;
            task.Set("result", XmlRpcCodec.TaskResult(result, _host.Model));
            Finish(task, "success");
        }
    }

    public void Fail(string taskRef, Exception error, bool cancelled = false)
    {
        lock (Db.Sync)
        {
            if (Db.Find("task", taskRef) is not { } task || IsFinished(task)) return;
            if (cancelled || task.GetString("status") == "cancelling")
            {
                task.Set("error_info", new JsonArray(XapiErrors.TaskCancelled, taskRef));
                Finish(task, "cancelled");
                return;
            }

            var failure = XapiFailures.From(error);
            task.Set("error_info", new JsonArray(failure.ErrorInfo.Select(s => (JsonNode?)s).ToArray()));
            Finish(task, "failure");
        }
    }

    /// <summary>task.cancel: running work is told to stop; a task nobody works on is cancelled at once.</summary>
    public void Cancel(XapiObject task)
    {
        if (IsFinished(task)) return;
        CancellationTokenSource? work;
        lock (_runningSync) work = _running.GetValueOrDefault(task.Ref);
        if (work is null)
        {
            task.Set("error_info", new JsonArray(XapiErrors.TaskCancelled, task.Ref));
            Finish(task, "cancelled");
            return;
        }

        task.Set("status", "cancelling");
        // Cancel outside the model lock: the work's catch handlers take it.
        _ = Task.Run(() =>
        {
            try
            {
                work.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The work finished in the meantime.
            }
        });
    }

    public static bool IsFinished(XapiObject task) => task.GetString("status") is "success" or "failure" or "cancelled";

    private void Finish(XapiObject task, string status)
    {
        task.Set("status", status);
        task.Set("progress", 1.0);
        task.Set("finished", _host.Now());
        task.Set("allowed_operations", new JsonArray("destroy"));
        _finishedAt[task.Ref] = _host.Clock.GetUtcNow();
    }

    private void CollectOldTasks()
    {
        var cutoff = _host.Clock.GetUtcNow() - FinishedTaskLifetime;
        foreach (var (taskRef, _) in _finishedAt.Where(p => p.Value < cutoff).ToList())
        {
            _finishedAt.Remove(taskRef);
            if (Db.Find("task", taskRef) is { } task) Destroy(task);
        }
    }

    private sealed class Detach(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}

/// <summary>Turns any failure into the XAPI error a client would see.</summary>
internal static class XapiFailures
{
    public static XapiException From(Exception error) => error switch
    {
        XapiException x => x,
        StorageFullException full => new XapiException(XapiErrors.SrFull, XapiErrors.Int(full.Requested), XapiErrors.Int(full.Available)),
        Vhd.VhdFormatException vhd => new XapiException(XapiErrors.VdiIoError, vhd.Message),
        IOException io => new XapiException(XapiErrors.VdiIoError, io.Message),
        OperationCanceledException => new XapiException(XapiErrors.InternalError, "The operation was cancelled."),
        _ => new XapiException(XapiErrors.InternalError, error.Message),
    };
}
