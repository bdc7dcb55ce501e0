using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>An XAPI error as a test sees it on the wire.</summary>
public sealed class XapiCallException(string code, IReadOnlyList<string> parameters)
    : Exception($"{code} [{string.Join(", ", parameters)}]")
{
    public string Code { get; } = code;

    public IReadOnlyList<string> Parameters { get; } = parameters;
}

/// <summary>
/// A deliberately plain JSON-RPC 2.0 client (raw JSON over HttpClient) for the simulator tests:
/// it shows exactly what travels, independently of the gateway's typed client.
/// </summary>
public sealed class XapiTestClient : IDisposable
{
    private int _id;

    private XapiTestClient(SimulatedHost host, HttpClient http)
    {
        Host = host;
        Http = http;
    }

    public SimulatedHost Host { get; }

    public HttpClient Http { get; }

    public string Session { get; private set; } = string.Empty;

    public static async Task<XapiTestClient> LoginAsync(SimulatedHost host)
    {
        var client = new XapiTestClient(host, new HttpClient { BaseAddress = new Uri(host.Url), Timeout = TimeSpan.FromSeconds(30) });
        client.Session = (await client.CallWithoutSessionAsync("session.login_with_password", host.Username, host.Password, "2.21", "simulator-tests"))!.GetValue<string>();
        return client;
    }

    /// <summary>Posts a body as is and returns the HTTP response (for shape and malformed-request tests).</summary>
    public Task<HttpResponseMessage> PostRawAsync(string body) =>
        Http.PostAsync("/jsonrpc", new StringContent(body, Encoding.UTF8, "application/json"));

    /// <summary>Sends a JSON-RPC request object and returns the parsed reply object.</summary>
    public async Task<JsonObject> SendAsync(JsonObject request)
    {
        using var response = await PostRawAsync(request.ToJsonString());
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    /// <summary>Calls a method with the session as first parameter; XAPI errors become <see cref="XapiCallException"/>.</summary>
    public Task<JsonNode?> CallAsync(string method, params object?[] parameters) =>
        CallWithoutSessionAsync(method, [Session, .. parameters]);

    public async Task<JsonNode?> CallWithoutSessionAsync(string method, params object?[] parameters)
    {
        var reply = await SendAsync(new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["method"] = method,
            ["params"] = new JsonArray(parameters.Select(ToNode).ToArray()),
            ["id"] = Interlocked.Increment(ref _id),
        });
        if (reply["error"] is JsonObject error)
        {
            throw new XapiCallException((string)error["message"]!,
                error["data"]!.AsArray().Select(p => (string)p!).ToList());
        }

        return reply["result"];
    }

    public async Task<string> CallForStringAsync(string method, params object?[] parameters) =>
        (await CallAsync(method, parameters))!.GetValue<string>();

    public async Task<JsonObject> RecordAsync(string className, string opaqueRef) =>
        (await CallAsync($"{className}.get_record", opaqueRef))!.AsObject();

    public async Task<XapiCallException> FailureAsync(string method, params object?[] parameters)
    {
        try
        {
            await CallAsync(method, parameters);
        }
        catch (XapiCallException e)
        {
            return e;
        }

        Assert.Fail($"{method} succeeded but was expected to fail.");
        throw new InvalidOperationException();
    }

    /// <summary>Polls a task until it leaves "pending" (as a client would), returning its record.</summary>
    public async Task<JsonObject> WaitForTaskAsync(string taskRef, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var task = await RecordAsync("task", taskRef);
            if ((string)task["status"]! is not ("pending" or "cancelling")) return task;
            if (DateTime.UtcNow > deadline) Assert.Fail($"Task {taskRef} still {(string)task["status"]!} after the timeout.");
            await Task.Delay(20);
        }
    }

    /// <summary>Creates a halted VM through XAPI (the required VM.create fields) with one disk of the given size.</summary>
    public async Task<(string Vm, string Vdi)> CreateVmWithDiskAsync(string name, long memoryBytes, long diskBytes, int vcpus = 1)
    {
        var vm = (string)(await CallAsync("VM.create", MinimalVmRecord(name, memoryBytes, vcpus)))!;
        var vdi = await CreateVdiAsync($"{name} disk", diskBytes);
        await CallAsync("VBD.create", VbdRecord(vm, vdi, "0"));
        return (vm, vdi);
    }

    public async Task<string> CreateVdiAsync(string name, long size)
    {
        var sr = (string)(await CallAsync("pool.get_default_SR", (string)(await CallAsync("pool.get_all"))![0]!))!;
        return (string)(await CallAsync("VDI.create", new JsonObject
        {
            ["name_label"] = name,
            ["SR"] = sr,
            ["virtual_size"] = size,
            ["type"] = "user",
            ["sharable"] = false,
            ["read_only"] = false,
            ["other_config"] = new JsonObject(),
        }))!;
    }

    public static JsonObject MinimalVmRecord(string name, long memoryBytes, int vcpus = 1) => new()
    {
        ["name_label"] = name,
        ["user_version"] = 1,
        ["is_a_template"] = false,
        ["affinity"] = "OpaqueRef:NULL",
        ["memory_static_min"] = memoryBytes,
        ["memory_static_max"] = memoryBytes,
        ["memory_dynamic_min"] = memoryBytes,
        ["memory_dynamic_max"] = memoryBytes,
        ["VCPUs_params"] = new JsonObject(),
        ["VCPUs_max"] = vcpus,
        ["VCPUs_at_startup"] = vcpus,
        ["actions_after_shutdown"] = "destroy",
        ["actions_after_reboot"] = "restart",
        ["actions_after_crash"] = "restart",
        ["PV_bootloader"] = "",
        ["PV_kernel"] = "",
        ["PV_ramdisk"] = "",
        ["PV_args"] = "",
        ["PV_bootloader_args"] = "",
        ["PV_legacy_args"] = "",
        ["HVM_boot_policy"] = "BIOS order",
        ["HVM_boot_params"] = new JsonObject { ["order"] = "c" },
        ["platform"] = new JsonObject(),
        ["PCI_bus"] = "",
        ["other_config"] = new JsonObject(),
        ["recommendations"] = "",
    };

    public static JsonObject VbdRecord(string vm, string vdi, string userdevice) => new()
    {
        ["VM"] = vm,
        ["VDI"] = vdi,
        ["userdevice"] = userdevice,
        ["bootable"] = true,
        ["mode"] = "RW",
        ["type"] = "Disk",
        ["empty"] = false,
        ["other_config"] = new JsonObject(),
        ["qos_algorithm_type"] = "",
        ["qos_algorithm_params"] = new JsonObject(),
    };

    /// <summary>The URL of an HTTP handler with this client's session in the query.</summary>
    public string HandlerUrl(string handler, params (string Key, string Value)[] query) =>
        $"{Host.Url}/{handler}?session_id={Uri.EscapeDataString(Session)}" +
        string.Concat(query.Select(q => $"&{q.Key}={Uri.EscapeDataString(q.Value)}"));

    /// <summary>Downloads an export into a file and returns the response headers' task id.</summary>
    public async Task<string> ExportToFileAsync(string path, params (string Key, string Value)[] query)
    {
        using var response = await Http.GetAsync(HandlerUrl("export_raw_vdi", query), HttpCompletionOption.ResponseHeadersRead);
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        await using (var file = File.Create(path))
        await using (var body = await response.Content.ReadAsStreamAsync())
            await body.CopyToAsync(file);
        return response.Headers.GetValues("task-id").Single();
    }

    /// <summary>PUTs a file to import_raw_vdi (with its Content-Length) and waits for the import task.</summary>
    public async Task<JsonObject> ImportFileAsync(string path, params (string Key, string Value)[] query)
    {
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentLength = file.Length;
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await Http.PutAsync(HandlerUrl("import_raw_vdi", query), content);
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        return await WaitForTaskAsync(response.Headers.GetValues("task-id").Single());
    }

    public static string Bytes(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        string s => s,
        bool b => b,
        int i => i,
        long l => l,
        double d => d,
        string[] items => new JsonArray(items.Select(s => (JsonNode?)s).ToArray()),
        _ => throw new ArgumentException($"Unsupported parameter type {value.GetType()}"),
    };

    public void Dispose() => Http.Dispose();
}
