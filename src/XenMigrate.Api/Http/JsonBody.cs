using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Api.Http;

/// <summary>
/// Reads a request body as JSON with a size cap, refusing what the handlers could not read safely:
/// invalid JSON, too deep nesting, duplicate keys (which JsonObject would only trip over later),
/// strings that are not valid UTF-16 (lone surrogates) or hold NUL (PostgreSQL cannot store it).
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
            var root = JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), documentOptions: Strict);
            return AllStringsReadable(root) ? (Outcome.Parsed, root) : (Outcome.Malformed, null);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            // JsonException for bad syntax; the others for undecodable or duplicate property names.
            return (Outcome.Malformed, null);
        }
    }

    /// <summary>Decodes every key and string once, so no handler meets an undecodable one later.</summary>
    private static bool AllStringsReadable(JsonNode? node)
    {
        try
        {
            switch (node)
            {
                case JsonObject o:
                    return o.All(p => Clean(p.Key) && AllStringsReadable(p.Value));
                case JsonArray a:
                    return a.All(AllStringsReadable);
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    return Clean(v.GetValue<string>());
                default:
                    return true;
            }
        }
        catch (InvalidOperationException)
        {
            return false; // System.Text.Json refuses to decode a lone surrogate
        }
    }

    private static bool Clean(string s) => !s.Contains('\0', StringComparison.Ordinal);
}
