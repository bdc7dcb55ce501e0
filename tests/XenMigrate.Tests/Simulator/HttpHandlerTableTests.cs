using System.Net;
using System.Net.Sockets;
using System.Text;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// xapi's HTTP surface: handlers matched by the longest prefix of the path per method
/// (http_svr.ml ~322-333, 532), a 403 where none matches and a 501 for a method with none, and
/// close-delimited bodies without any Transfer-Encoding header (http.ml 44-55), read off the socket.
/// </summary>
public class HttpHandlerTableTests : SimulatorFixture
{
    [Test]
    public async Task ExportWithATrailingSlash_ReachesTheExportHandler()
    {
        var seeded = await SeedVmAsync(UniqueName("slash"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);

        using var response = await Xapi.Http.GetAsync(
            $"/export_raw_vdi/?session_id={Uri.EscapeDataString(Xapi.Session)}&vdi={Uri.EscapeDataString(seeded.VdiRef)}&format=raw");
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(bytes, Has.Length.EqualTo(4 * MiB));
    }

    [TestCase("/jsonrpc?x=1")]
    [TestCase("/jsonrpc/")]
    [TestCase("/jsonrpcx")]
    public async Task JsonRpc_IsMatchedByPrefix(string path)
    {
        using var response = await Xapi.Http.PostAsync(path, new StringContent(
            $$"""{"jsonrpc":"2.0","method":"pool.get_all","params":["{{Xapi.Session}}"],"id":1}""", Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        Assert.That(body, Does.Contain("OpaqueRef:"));
        Assert.That(response.Content.Headers.ContentLength, Is.EqualTo(Encoding.UTF8.GetByteCount(body)), "api_server.ml sends a length");
        Assert.That(response.Headers.GetValues("Access-Control-Allow-Origin"), Does.Contain("*"));
    }

    [Test]
    public async Task NoPrefixMatches_IsA403_AndAMethodWithNoHandlers_IsA501()
    {
        using var get = await Xapi.Http.GetAsync("/no-such-handler");
        using var patch = await Xapi.Http.SendAsync(new HttpRequestMessage(HttpMethod.Patch, "/jsonrpc"));
        using var sim = await Xapi.Http.GetAsync("/sim/state");

        Assert.That(get.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await get.Content.ReadAsStringAsync(), Does.Contain("HTTP 403 forbidden"));
        Assert.That(patch.StatusCode, Is.EqualTo(HttpStatusCode.NotImplemented));
        Assert.That(await patch.Content.ReadAsStringAsync(), Does.Contain("PATCH not supported"));
        Assert.That(sim.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the simulator's own routes stay");
    }

    [Test]
    public async Task OptionsPreflight_AnswersAsRespondToOptions()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/");
        request.Headers.Add("Access-Control-Request-Headers", "content-type");
        using var response = await Xapi.Http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Headers.GetValues("Access-Control-Allow-Headers").Single(), Is.EqualTo("content-type, X-Requested-With"));
        Assert.That(response.Headers.GetValues("Access-Control-Allow-Methods").Single(), Is.EqualTo("PUT"));
    }

    [Test]
    public async Task Export_OverHttp11_IsCloseDelimited_WithoutTransferEncoding()
    {
        var seeded = await SeedVmAsync(UniqueName("raw"), "Halted", diskBytes: 4 * MiB, dataBytes: 1 * MiB);
        // A JSON-RPC call first, on the same connection: the export's head is found after it.
        var call = $$"""{"jsonrpc":"2.0","method":"pool.get_all","params":["{{Xapi.Session}}"],"id":1}""";
        var request =
            $"POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(call)}\r\n\r\n{call}" +
            $"GET /export_raw_vdi?session_id={Uri.EscapeDataString(Xapi.Session)}&vdi={Uri.EscapeDataString(seeded.VdiRef)}&format=raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

        var raw = await ExchangeAsync(request);

        var second = raw.IndexOf("HTTP/1.1 200", 10, StringComparison.Ordinal);
        Assert.That(second, Is.GreaterThan(0), "two responses on one connection");
        var head = raw[second..raw.IndexOf("\r\n\r\n", second, StringComparison.Ordinal)];
        Assert.That(head, Does.StartWith("HTTP/1.1 200 OK"));
        Assert.That(head, Does.Not.Contain("Transfer-Encoding").IgnoreCase);
        Assert.That(head, Does.Not.Contain("Content-Length").IgnoreCase);
        Assert.That(head, Does.Contain("Connection: close"));
        var body = raw.Length - (raw.IndexOf("\r\n\r\n", second, StringComparison.Ordinal) + 4);
        Assert.That(body, Is.EqualTo(4 * MiB), "the raw disk, ended by the close");
    }

    /// <summary>Sends raw bytes on a new connection and reads until the server closes it (Latin-1, byte for char).</summary>
    private async Task<string> ExchangeAsync(string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Host.Port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await stream.CopyToAsync(received, timeout.Token);
        return Encoding.Latin1.GetString(received.ToArray());
    }
}
