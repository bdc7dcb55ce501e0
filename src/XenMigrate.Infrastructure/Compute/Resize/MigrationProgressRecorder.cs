using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Transfer;

namespace XenMigrate.Infrastructure.Compute.Resize;

/// <summary>
/// Writes a disk copy's progress (bytes of the stream: allocated blocks only) into the migration's
/// counters and the server's progress within the step's percent range. The transfer already
/// reports at its own interval (<see cref="VdiTransferOptions.ProgressInterval"/>), so nothing is
/// throttled twice here: a write still running makes the next report wait and take the newest values.
/// Each write has a context of its own, because the step's context is busy with the transfer.
/// </summary>
public sealed partial class MigrationProgressRecorder(IServiceScopeFactory scopes, ILogger<MigrationProgressRecorder> logger) : IDisposable
{
    private readonly Lock _pendingLock = new();
    private readonly SemaphoreSlim _writing = new(1, 1);
    private Pending? _pending;

    public void Dispose() => _writing.Dispose();

    /// <summary>A progress sink for one disk copy of a migration, mapped to <paramref name="fromPercent"/>–<paramref name="toPercent"/> of the server's progress.</summary>
    public IProgress<TransferProgress> For(int migrationId, Guid serverId, int fromPercent, int toPercent) =>
        new Progress(this, migrationId, serverId, fromPercent, toPercent);

    private void Record(Pending value)
    {
        lock (_pendingLock) _pending = value;
        _ = WriteAsync();
    }

    private async Task WriteAsync()
    {
        if (!await _writing.WaitAsync(0)) return; // the running write picks up the newest values after it
        Pending? p = null;
        try
        {
            while (true)
            {
                lock (_pendingLock)
                {
                    p = _pending;
                    _pending = null;
                }

                if (p is null) return;
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
                await db.Migrations.Where(m => m.Id == p.MigrationId)
                    .ExecuteUpdateAsync(u => u.SetProperty(m => m.DiskProcessedBytes, p.Done).SetProperty(m => m.DiskTotalBytes, p.Total)
                        .SetProperty(m => m.DiskRemainingBytes, p.Total - p.Done));
                await db.Servers.Where(x => x.Id == p.ServerId).ExecuteUpdateAsync(u => u.SetProperty(x => x.Progress, p.Percent));
            }
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException)
        {
            LogProgressLost(logger, p?.MigrationId ?? 0, e.Message); // progress is advisory; the step carries on
        }
        finally
        {
            _writing.Release();
        }
    }

    private sealed record Pending(int MigrationId, Guid ServerId, long Done, long Total, int Percent);

    private sealed class Progress(MigrationProgressRecorder recorder, int migrationId, Guid serverId, int fromPercent, int toPercent)
        : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value)
        {
            var share = value.TotalBytes == 0 ? 1.0 : Math.Min(1.0, (double)value.BytesCopied / value.TotalBytes);
            recorder.Record(new Pending(migrationId, serverId, Math.Min(value.BytesCopied, value.TotalBytes), value.TotalBytes,
                fromPercent + (int)((toPercent - fromPercent) * share)));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Progress of migration {MigrationId} not recorded: {Reason}")]
    private static partial void LogProgressLost(ILogger logger, int migrationId, string reason);
}
