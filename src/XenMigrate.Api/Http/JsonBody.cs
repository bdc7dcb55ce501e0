using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Api.Http;

/// <summary>
/// Reads a request body as JSON with a size cap, refusing what the handlers could not read safely:
/// invalid JSON, too deep nesting, duplicate keys (which JsonObject would only trip over later).
/// </summary>
public static class JsonBody
{
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    public enum Outcome
    {
        Parsed,
        Malformed,
        TooLarge,
    }

    public static async Task<(Outcome Outcome, JsonNode? Json)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes) return (Outcome.TooLarge, null);

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes) return (Outcome.TooLarge, null);
            buffer.Write(chunk, 0, read);
        }

        try
        {
            return (Outcome.Parsed, JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), documentOptions: Strict));
        }
        catch (JsonException)
        {
            return (Outcome.Malformed, null);
        }
    }
}
