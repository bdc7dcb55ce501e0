using System.Text.Json.Nodes;
using Microsoft.Net.Http.Headers;
using XenMigrate.Api.Http;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova;

/// <summary>The JSON body of a Nova write request, refused as Nova refuses it: 415, 413, then 400.</summary>
public static class NovaRequestBody
{
    /// <summary>Nova's osapi_max_request_body_size.</summary>
    public const int MaxBytes = 114_688;

    /// <summary>The parsed body (JSON null for "null"); Nova's faults for a wrong type, too large or malformed.</summary>
    public static async Task<JsonNode?> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        if (!IsJsonForNova(request.ContentType))
            throw new NovaFaultException(StatusCodes.Status415UnsupportedMediaType, NovaMessages.UnsupportedContentType);
        var (outcome, json) = await JsonBody.ReadAsync(request, MaxBytes, ct);
        if (outcome == JsonBody.Outcome.TooLarge) throw new NovaFaultException(StatusCodes.Status413RequestEntityTooLarge, NovaMessages.RequestTooLarge);
        if (outcome == JsonBody.Outcome.Malformed) throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);
        return json;
    }

    /// <summary>
    /// The object under a body's one wrapper key ({"server": {…}}, {"keypair": {…}}), refused in
    /// jsonschema's words as Nova's schemas do: not an object, another key, the key missing.
    /// </summary>
    public static JsonObject Wrapped(JsonNode? json, string key)
    {
        if (json is not JsonObject body) throw NovaFaultException.BadRequest($"{NovaValues.Repr(json)} is not of type 'object'");
        if (body.FirstOrDefault(p => p.Key != key) is { Key: { } extra })
            throw NovaFaultException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        if (body[key] is JsonObject inner) return inner;
        throw body.ContainsKey(key)
            ? NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, body[key], $"{NovaValues.Repr(body[key])} is not of type 'object'"))
            : NovaFaultException.BadRequest($"'{key}' is a required property");
    }

    /// <summary>
    /// Nova's <c>Request.get_content_type</c>: no type, an empty one or text/plain is read as JSON;
    /// otherwise the media type (parameters aside) must be JSON or Nova's vendor type, not merely start like it.
    /// </summary>
    private static bool IsJsonForNova(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return true;
        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed)) return false;
        var media = parsed.MediaType.Value;
        return string.Equals(media, "application/json", StringComparison.OrdinalIgnoreCase)
               || string.Equals(media, "application/vnd.openstack.compute+json", StringComparison.OrdinalIgnoreCase)
               || string.Equals(media, "text/plain", StringComparison.OrdinalIgnoreCase);
    }
}
