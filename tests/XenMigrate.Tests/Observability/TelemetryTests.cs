using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;

namespace XenMigrate.Tests.Observability;

/// <summary>
/// A real resize through the gateway (HTTP, Hangfire, XAPI on simulated hosts), then what it left in
/// the gateway's own OpenTelemetry pipeline: the Prometheus scrape, the exported spans, and the log
/// lines with the request id the client got back.
/// </summary>
[NonParallelizable]
public partial class TelemetryTests : WorkflowFixture
{
    private readonly LockedList<Activity> _spans = new();
    private readonly LogCapture _logs = new();
    private string _serverId = null!;
    private string _requestId = null!;

    protected override IEnumerable<string> ExtraGatewayArgs =>
        ["--Logging:LogLevel:Default=Information", "--Logging:LogLevel:Microsoft.EntityFrameworkCore=Warning"];

    protected override void ConfigureGatewayServices(IServiceCollection services)
    {
        // The gateway's own tracer provider (sources, instrumentation) exports into a list as well.
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(_spans));
        services.AddLogging(l => l.AddProvider(_logs));
    }

    [OneTimeSetUp]
    public async Task ResizeOnce()
    {
        _serverId = await SeedServerAsync(0, "obs-1", memoryMb: 1024, diskGb: 1, dataMib: 16);
        var accepted = await ActionAsync(_serverId, Demo, """{"resize":{"flavorRef":"w2"}}""");
        AssertStatus(accepted, HttpStatusCode.Accepted);
        _requestId = accepted.Header("x-openstack-request-id");
        Assert.That(_requestId, Does.Match("^req-[0-9a-f-]{36}$"));
        await WaitForStatusAsync(_serverId, "VERIFY_RESIZE");
    }

    [Test]
    public async Task Metrics_ShowTheResizesDuration_BytesMoved_AndDowntime()
    {
        using var response = await Gateway.Http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);

        Assert.Multiple(() =>
        {
            Assert.That(Sample(text, "xenmigrate_migration_duration_seconds_count", "resize", "finished"), Is.GreaterThanOrEqualTo(1));
            Assert.That(Sample(text, "xenmigrate_migration_duration_seconds_sum", "resize", "finished"), Is.GreaterThan(0));
            Assert.That(Sample(text, "xenmigrate_migration_downtime_seconds_count", "resize", "finished"), Is.GreaterThanOrEqualTo(1));
            // Every byte the migration row counts went through the counter (base and delta copies).
            // The seeded disk holds 16 MiB of data: at least that much went through the base copy.
            Assert.That(SumOf(text, "xenmigrate_migration_bytes_moved_bytes_total"), Is.GreaterThan(16L << 20));
        });
    }

    [Test]
    public void Spans_CoverEveryStep_WithTheRequestId_AndTheXapiCallsInsideThem()
    {
        List<Activity> spans;
        spans = _spans.Snapshot();
        var steps = spans.Where(s => s.Source.Name == XenMigrateTelemetry.Name).ToList();
        Assert.That(steps.Select(s => s.DisplayName), Is.SupersetOf(new[] { "migration.Prep", "migration.CopyBase", "migration.CutOver", "migration.Finish" }));
        Assert.That(steps.Select(s => s.GetTagItem(XenMigrateTelemetry.RequestIdTag)), Is.All.EqualTo(_requestId));
        Assert.That(steps.Select(s => s.Status), Is.All.Not.EqualTo(ActivityStatusCode.Error));

        // The API call itself is a server span tagged with the same id.
        Assert.That(spans.Any(s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem(XenMigrateTelemetry.RequestIdTag), _requestId)
                                   && s.DisplayName.StartsWith("POST", StringComparison.Ordinal)), "the POST's server span");

        // XAPI (JSON-RPC and the disk streams) are HTTP client spans inside the step spans; session refs never show.
        var copyBase = steps.First(s => s.DisplayName == "migration.CopyBase");
        var clientCalls = spans.Where(s => s.Kind == ActivityKind.Client && s.TraceId == copyBase.TraceId).ToList();
        Assert.That(clientCalls.Select(s => s.GetTagItem("url.full")?.ToString()), Has.Some.Contains("/jsonrpc").And.Some.Contains("export_raw_vdi"));
        Assert.That(clientCalls.Select(s => s.GetTagItem("url.full")?.ToString()), Has.None.Contains("OpaqueRef"), "query values are redacted");
    }

    [Test]
    public void LogLines_OfTheRequest_AndOfItsJobs_CarryTheRequestId()
    {
        var lines = _logs.Lines.ToList();
        var ofRequest = lines.Where(l => l.Property(XenMigrateTelemetry.RequestIdProperty) == _requestId).ToList();
        Assert.That(ofRequest.Select(l => l.Category), Has.Some.StartsWith("Microsoft.AspNetCore.Routing"), "lines written while the POST was answered");
        Assert.That(ofRequest.Where(l => l.Category.EndsWith(".ResizeWorkflow", StringComparison.Ordinal)).Select(l => l.Message),
            Has.Some.Contains("moved from"), "the Hangfire job's line, written in another thread long after the response");
        Assert.That(ofRequest.Where(l => l.Category.EndsWith(".VdiTransfer", StringComparison.Ordinal)), Is.Not.Empty, "the disk copies' lines");

        // No line of another request carries this id.
        var endpointLines = lines.Where(l => l.Category.StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal)).ToList();
        Assert.That(endpointLines.Count(l => l.Property(XenMigrateTelemetry.RequestIdProperty) is null), Is.Zero, "every request's lines carry an id");
        Assert.That(endpointLines.Select(l => l.Property(XenMigrateTelemetry.RequestIdProperty)).Distinct().Count(), Is.GreaterThan(1));
    }

    /// <summary>The value of one Prometheus sample with the migration type and outcome labels.</summary>
    private static double Sample(string exposition, string metric, string type, string outcome)
    {
        foreach (var (labels, value) in Samples(exposition, metric))
        {
            if (labels.Contains($"xenmigrate_migration_type=\"{type}\"", StringComparison.Ordinal)
                && labels.Contains($"xenmigrate_migration_outcome=\"{outcome}\"", StringComparison.Ordinal))
                return value;
        }

        Assert.Fail($"No {metric} sample for {type}/{outcome} in:\n{exposition}");
        return 0;
    }

    private static double SumOf(string exposition, string metric) => Samples(exposition, metric).Sum(s => s.Value);

    private static IEnumerable<(string Labels, double Value)> Samples(string exposition, string metric) =>
        SampleLine().Matches(exposition).Where(m => m.Groups["name"].Value == metric)
            .Select(m => (m.Groups["labels"].Value, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[^ \n]+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}

/// <summary>
/// A list the in-memory exporter may add to from any thread (it does not lock) while a test reads
/// a copy: every member takes one lock.
/// </summary>
internal sealed class LockedList<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public int Count { get { lock (_items) return _items.Count; } }

    public bool IsReadOnly => false;

    public void Add(T item) { lock (_items) _items.Add(item); }

    public void Clear() { lock (_items) _items.Clear(); }

    public bool Contains(T item) { lock (_items) return _items.Contains(item); }

    public void CopyTo(T[] array, int arrayIndex) { lock (_items) _items.CopyTo(array, arrayIndex); }

    public bool Remove(T item) { lock (_items) return _items.Remove(item); }

    public List<T> Snapshot() { lock (_items) return [.. _items]; }

    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
