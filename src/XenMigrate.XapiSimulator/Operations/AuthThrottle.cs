namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// xapi_session.ml ~260-270 throttle_auth_internal: local (PAM) authentication runs under a
/// semaphore whose size is the pool's local_auth_max_threads (set at start and by
/// pool.set_local_auth_max_threads; 8 by default, datamodel_pool.ml), one per host. A login waits
/// for a slot and holds it while the password is checked, so a client that logs in per call is slow.
/// </summary>
internal sealed class AuthThrottle
{
    private readonly Lock _sync = new();
    private readonly LinkedList<TaskCompletionSource> _waiting = new();
    private int _active;

    public async Task<IDisposable> EnterAsync(Func<int> limit, CancellationToken cancellation)
    {
        TaskCompletionSource waiter;
        LinkedListNode<TaskCompletionSource> node;
        lock (_sync)
        {
            if (_active < Math.Max(1, limit()))
            {
                _active++;
                return new Slot(this, limit);
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            node = _waiting.AddLast(waiter);
        }

        await using (cancellation.Register(() =>
        {
            lock (_sync)
            {
                if (node.List is not null) _waiting.Remove(node);
            }

            waiter.TrySetCanceled(cancellation);
        }))
        {
            await waiter.Task;
        }

        return new Slot(this, limit);
    }

    /// <summary>How many logins are authenticating now (for tests).</summary>
    public int Active
    {
        get
        {
            lock (_sync) return _active;
        }
    }

    private void Release(Func<int> limit)
    {
        lock (_sync)
        {
            // The slot passes to the next waiter, unless the limit shrank below what is running.
            while (_waiting.First is { } next && _active <= Math.Max(1, limit()))
            {
                _waiting.RemoveFirst();
                if (next.Value.TrySetResult()) return;
            }

            _active--;
        }
    }

    private sealed class Slot(AuthThrottle owner, Func<int> limit) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(limit);
        }
    }
}
