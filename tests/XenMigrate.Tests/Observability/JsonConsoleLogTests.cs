using System.Net;
using System.Text.Json;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Observability;

/// <summary>
/// The documented container setting, in a real gateway process: JSON console lines, one object per
/// line, and the lines written while a request was answered carry its Nova request id.
/// </summary>
public class JsonConsoleLogTests
{
    [Test]
    public async Task JsonConsole_LinesOfARequest_CarryItsRequestId()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gateway = await GatewayProcess.StartAsync(db,
        [
            "--Logging:Console:FormatterName=json", "--Logging:Console:FormatterOptions:IncludeScopes=true",
            "--Logging:LogLevel:Default=Information", "--Logging:LogLevel:Microsoft.EntityFrameworkCore=Warning",
        ], "json-logs");
        var token = await gateway.TokenAsync(TestUsers.Demo);
        var response = await gateway.GetAsync("/v2.1/flavors", token);
        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.OK));
        var requestId = response.Header("x-openstack-request-id");

        // The console is written asynchronously: wait for the request's lines.
        List<JsonElement> lines = [];
        await Eventually.HoldsAsync(() => Task.FromResult(lines = JsonLines(gateway.ReadLog())),
            l => l.Any(e => CarriesRequestId(e, requestId) && Category(e).StartsWith("Microsoft.AspNetCore.Routing", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), "the request's endpoint lines with its id");
        Assert.That(lines.Where(e => CarriesRequestId(e, requestId)).Select(Category), Has.Some.StartsWith("Microsoft.AspNetCore.Routing"));
    }

    private static string Category(JsonElement line) => line.GetProperty("Category").GetString() ?? string.Empty;

    private static bool CarriesRequestId(JsonElement line, string requestId) =>
        line.TryGetProperty("Scopes", out var scopes) && scopes.EnumerateArray().Any(s =>
            s.ValueKind == JsonValueKind.Object && s.TryGetProperty(XenMigrateTelemetry.RequestIdProperty, out var id) && id.GetString() == requestId);

    /// <summary>Every line of the log that is a JSON object (the start-up banner is plain text).</summary>
    private static List<JsonElement> JsonLines(string log)
    {
        var result = new List<JsonElement>();
        foreach (var line in log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.StartsWith('{')) continue;
            try
            {
                result.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
            catch (JsonException)
            {
                // a line cut short while being written: the next poll reads it whole
            }
        }

        return result;
    }
}
