using System.Text.Json.Nodes;

namespace XenMigrate.Infrastructure.Xapi;

/// <summary>
/// The XAPI calls the gateway makes, typed. Each sends the shortest parameter list the call
/// accepts, because older hosts reject parameters added in newer releases.
/// </summary>
public static class XapiCalls
{
    public static Task<Dictionary<string, XapiHost>> HostsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("host", XapiHost.From, ct);

    public static Task<Dictionary<string, XapiVm>> VmsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("VM", XapiVm.From, ct);

    public static Task<Dictionary<string, XapiVbd>> VbdsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("VBD", XapiVbd.From, ct);

    public static Task<Dictionary<string, XapiVdi>> VdisAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("VDI", XapiVdi.From, ct);

    public static Task<Dictionary<string, XapiSr>> SrsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("SR", XapiSr.From, ct);

    public static Task<Dictionary<string, XapiVif>> VifsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("VIF", XapiVif.From, ct);

    public static Task<Dictionary<string, XapiGuestMetrics>> GuestMetricsAsync(this XapiSession s, CancellationToken ct) =>
        s.AllRecordsAsync("VM_guest_metrics", XapiGuestMetrics.From, ct);

    /// <summary>Every network's name_label (what Nova's addresses are keyed by).</summary>
    public static async Task<Dictionary<string, string>> NetworkLabelsAsync(this XapiSession s, CancellationToken ct) =>
        (await s.CallAsync("network.get_all_records", ct) as JsonObject ?? []).Where(n => n.Value is JsonObject)
            .ToDictionary(n => n.Key, n => XapiValues.String(n.Value!["name_label"]), StringComparer.Ordinal);

    /// <summary>PBD records untyped: placement reads only each one's host and SR.</summary>
    public static async Task<JsonObject> PbdRecordsAsync(this XapiSession s, CancellationToken ct) =>
        await s.CallAsync("PBD.get_all_records", ct) as JsonObject ?? [];

    public static async Task<XapiPool> PoolAsync(this XapiSession s, CancellationToken ct) =>
        (await s.AllRecordsAsync("pool", XapiPool.From, ct)).Values.Single();

    public static async Task<long> ComputeFreeMemoryAsync(this XapiSession s, string hostRef, CancellationToken ct) =>
        XapiValues.Int(await s.CallAsync("host.compute_free_memory", ct, hostRef));

    public static async Task<XapiVm> VmAsync(this XapiSession s, string vmRef, CancellationToken ct) =>
        XapiVm.From(vmRef, await s.CallAsync("VM.get_record", ct, vmRef) as JsonObject
                           ?? throw new XapiTransportException(s.Host.Name, "VM.get_record returned no record."));

    public static Task AddToOtherConfigAsync(this XapiSession s, string cls, string reference, string key, string value, CancellationToken ct) =>
        s.CallAsync($"{cls}.add_to_other_config", ct, reference, key, value);

    public static Task RemoveFromOtherConfigAsync(this XapiSession s, string cls, string reference, string key, CancellationToken ct) =>
        s.CallAsync($"{cls}.remove_from_other_config", ct, reference, key);

    // ---- Storage XenMotion ----

    /// <summary>On the source: xapi's checks of a migrate_send (version, memory, maps) without moving anything.</summary>
    public static Task AssertCanMigrateAsync(this XapiSession s, string vmRef, IReadOnlyDictionary<string, string> dest, bool live,
        IReadOnlyDictionary<string, string> vdiMap, IReadOnlyDictionary<string, string> vifMap, CancellationToken ct) =>
        s.CallAsync("VM.assert_can_migrate", ct, vmRef, dest, live, vdiMap, vifMap, new Dictionary<string, string>());

    /// <summary>On the source: starts <c>Async.VM.migrate_send</c> and returns its task (result: the VM's ref on the destination).</summary>
    public static Task<string> StartMigrateSendAsync(this XapiSession s, string vmRef, IReadOnlyDictionary<string, string> dest, bool live,
        IReadOnlyDictionary<string, string> vdiMap, IReadOnlyDictionary<string, string> vifMap, CancellationToken ct) =>
        s.CallForStringAsync("Async.VM.migrate_send", ct, vmRef, dest, live, vdiMap, vifMap, new Dictionary<string, string>());

    public static async Task<XapiTask> TaskRecordAsync(this XapiSession s, string taskRef, CancellationToken ct) =>
        XapiTask.From(taskRef, await s.CallAsync("task.get_record", ct, taskRef) as JsonObject
                               ?? throw new XapiTransportException(s.Host.Name, "task.get_record returned no record."));

    /// <summary>
    /// Long-polls <c>event.from</c> for the given classes; returns the events and the token to pass
    /// next time (start with "", which returns every current object of those classes).
    /// </summary>
    public static async Task<(JsonArray Events, string Token)> EventsFromAsync(this XapiSession s, IEnumerable<string> classes,
        string token, TimeSpan timeout, CancellationToken ct)
    {
        var result = await s.CallAsync("event.from", ct, classes.ToList(), token, timeout.TotalSeconds) as JsonObject
                     ?? throw new XapiTransportException(s.Host.Name, "event.from returned no object.");
        return (result["events"] as JsonArray ?? [], XapiValues.String(result["token"]));
    }

    private static async Task<Dictionary<string, T>> AllRecordsAsync<T>(this XapiSession s, string cls,
        Func<string, JsonObject, T> parse, CancellationToken ct)
    {
        var result = await s.CallAsync($"{cls}.get_all_records", ct) as JsonObject
                     ?? throw new XapiTransportException(s.Host.Name, $"{cls}.get_all_records returned no map.");
        return result.Where(p => p.Value is JsonObject)
            .ToDictionary(p => p.Key, p => parse(p.Key, (JsonObject)p.Value!), StringComparer.Ordinal);
    }
}
