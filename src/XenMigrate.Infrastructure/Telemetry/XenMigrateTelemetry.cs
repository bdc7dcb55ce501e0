using System.Diagnostics;
using System.Diagnostics.Metrics;
using XenMigrate.Domain.Migrations;

namespace XenMigrate.Infrastructure.Telemetry;

/// <summary>
/// Every span source, instrument and tag name the gateway emits, in one place. The OpenTelemetry
/// SDK (composed in the Api project) listens to <see cref="Name"/>; code here depends only on the
/// BCL's ActivitySource and Meter, so it works (and costs nothing) when nobody listens.
/// </summary>
public static class XenMigrateTelemetry
{
    /// <summary>The ActivitySource and Meter name.</summary>
    public const string Name = "XenMigrate";

    public const string MigrationDurationName = "xenmigrate.migration.duration";
    public const string BytesMovedName = "xenmigrate.migration.bytes_moved";
    public const string DowntimeName = "xenmigrate.migration.downtime";

    public const string StepSpanPrefix = "migration.";

    // Tag names (OpenTelemetry style: lower case, dotted).
    public const string TypeTag = "xenmigrate.migration.type";
    public const string OutcomeTag = "xenmigrate.migration.outcome";
    public const string MigrationIdTag = "xenmigrate.migration.id";
    public const string StepTag = "xenmigrate.migration.step";
    public const string DeltaTag = "xenmigrate.transfer.delta";
    public const string RequestIdTag = "openstack.request_id";

    /// <summary>The structured-log property that carries Nova's request id (req-&lt;uuid&gt;).</summary>
    public const string RequestIdProperty = "RequestId";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>From the request that started it to the migration's end state (finished, or error after a rollback).</summary>
    public static readonly Histogram<double> MigrationDuration = Meter.CreateHistogram<double>(MigrationDurationName, "s",
        "Time from the request to the end of the move (finished, or error after the rollback), by migration type and outcome.");

    /// <summary>Bytes of VHD stream copied between hosts (allocated blocks only).</summary>
    public static readonly Counter<long> BytesMoved = Meter.CreateCounter<long>(BytesMovedName, "By",
        "Bytes of disk data streamed from a source host to a destination host.");

    /// <summary>Source halted → destination running, as the workflow records it on the migration.</summary>
    public static readonly Histogram<double> Downtime = Meter.CreateHistogram<double>(DowntimeName, "s",
        "Time the server was down during a move: source halted until the destination copy was running.");

    /// <summary>A span for one durable workflow step (its XAPI and disk-copy HTTP calls become its children).</summary>
    public static Activity? StartStep(string step, int migrationId, string? requestId)
    {
        var activity = Source.StartActivity(StepSpanPrefix + step, ActivityKind.Internal);
        activity?.SetTag(StepTag, step);
        activity?.SetTag(MigrationIdTag, migrationId);
        if (requestId is not null) activity?.SetTag(RequestIdTag, requestId);
        return activity;
    }

    /// <summary>Records a move that reached its end state: its duration and, when the server was down, its downtime.</summary>
    public static void RecordMoveEnded(Migration migration, DateTime now)
    {
        var type = new KeyValuePair<string, object?>(TypeTag, migration.Type.ToNovaName());
        var outcome = new KeyValuePair<string, object?>(OutcomeTag, migration.Status.ToNovaName());
        MigrationDuration.Record(Math.Max(0, (now - migration.CreatedAt).TotalSeconds), type, outcome);
        if (migration.DowntimeMilliseconds is { } downtime) Downtime.Record(downtime / 1000.0, type, outcome);
    }

    public static void RecordBytesMoved(long bytes, bool delta) =>
        BytesMoved.Add(bytes, new KeyValuePair<string, object?>(DeltaTag, delta));
}
