using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>What the storage tests share: an export read whole with its status and task, snapshots, processes, polling.</summary>
internal static class TransferProbe
{
    public sealed record Export(HttpStatusCode Status, string? TaskRef, byte[] Body);

    /// <summary>GETs export_raw_vdi and reads the body to its end (a dropped connection just ends it).</summary>
    public static async Task<Export> ExportAsync(XapiTestClient xapi, params (string Key, string Value)[] query)
    {
        using var response = await xapi.Http.GetAsync(xapi.HandlerUrl("export_raw_vdi", query), HttpCompletionOption.ResponseHeadersRead);
        var task = response.Headers.TryGetValues("task-id", out var values) ? values.Single() : null;
        using var body = new MemoryStream();
        try
        {
            await (await response.Content.ReadAsStreamAsync()).CopyToAsync(body);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The connection was dropped: what arrived is what the client has.
        }

        return new Export(response.StatusCode, task, body.ToArray());
    }

    /// <summary>PUTs a body to import_raw_vdi with its Content-Length; returns the status and the task (waited for when there is one).</summary>
    public static async Task<(HttpStatusCode Status, JsonObject? Task)> ImportAsync(XapiTestClient xapi, byte[] body, params (string Key, string Value)[] query)
    {
        HttpStatusCode status;
        string? task = null;
        try
        {
            using var content = new ByteArrayContent(body);
            using var response = await xapi.Http.PutAsync(xapi.HandlerUrl("import_raw_vdi", query), content);
            status = response.StatusCode;
            task = response.Headers.TryGetValues("task-id", out var values) ? values.Single() : null;
        }
        catch (HttpRequestException)
        {
            // The host closed the connection while the body was still going up (a failed import does).
            status = HttpStatusCode.OK;
        }

        var given = query.FirstOrDefault(q => q.Key == "task_id").Value;
        task ??= given;
        return (status, task is null ? null : await xapi.WaitForTaskAsync(task));
    }

    public static async Task<string> SnapshotAsync(XapiTestClient xapi, string vdi) => await xapi.CallForStringAsync("VDI.snapshot", vdi, new JsonObject());

    public static string[] ErrorInfo(JsonObject task) => task["error_info"]!.AsArray().Select(e => (string)e!).ToArray();

    public static async Task<JsonObject> VdiWithSmConfigAsync(XapiTestClient xapi, string sr, long size, JsonObject smConfig, string name = "disk") =>
        await xapi.RecordAsync("VDI", (string)(await xapi.CallAsync("VDI.create", new JsonObject
        {
            ["name_label"] = name,
            ["SR"] = sr,
            ["virtual_size"] = size,
            ["type"] = "user",
            ["sharable"] = false,
            ["read_only"] = false,
            ["other_config"] = new JsonObject(),
            ["sm_config"] = smConfig,
        }))!);

    public static async Task<string> CreateVdiAsync(XapiTestClient xapi, string sr, long size, JsonObject? smConfig = null) =>
        (string)(await xapi.CallAsync("VDI.create", new JsonObject
        {
            ["name_label"] = "disk",
            ["SR"] = sr,
            ["virtual_size"] = size,
            ["type"] = "user",
            ["sharable"] = false,
            ["read_only"] = false,
            ["other_config"] = new JsonObject(),
            ["sm_config"] = smConfig ?? new JsonObject(),
        }))!;

    /// <summary>The dom0 VBDs on a VDI: (uuid, mode, currently_attached).</summary>
    public static List<(string Uuid, string Mode, bool Attached)> Dom0Vbds(SimulatedHost host, string vdiRef)
    {
        if (host.Database.GetRecord(vdiRef) is not { } vdi) return [];
        return vdi["VBDs"]!.AsArray().Select(r => host.Database.GetRecord((string)r!)).OfType<JsonObject>()
            .Where(vbd => (string?)vbd["VM"] == host.ControlDomainRef)
            .Select(vbd => ((string)vbd["uuid"]!, (string)vbd["mode"]!, (bool)vbd["currently_attached"]!)).ToList();
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"Timed out waiting for {what}.");
            await Task.Delay(10);
        }
    }

    public static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var (code, output, error) = await TryRunAsync(program, arguments);
        Assert.That(code, Is.Zero, $"{program} {string.Join(' ', arguments)}: {error}");
        return output;
    }

    public static async Task<(int Code, string Output, string Error)> TryRunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    public static string Ascii(byte[] bytes, int count = 4096) => Encoding.ASCII.GetString(bytes, 0, Math.Min(count, bytes.Length));

    public static async Task<Socket> ConnectAsync(string address, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Parse(address), port);
        return socket;
    }
}
