using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace XenMigrate.Infrastructure.Xapi;

/// <summary>Conversions between XAPI's JSON values and .NET ones, tolerant as xapi's own clients are.</summary>
public static class XapiValues
{
    public const string NullRef = "OpaqueRef:NULL";

    public static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        IEnumerable<string> strings => new JsonArray(strings.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        IReadOnlyDictionary<string, string> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
        _ => throw new ArgumentException($"No XAPI encoding for {value.GetType().Name}.", nameof(value)),
    };

    public static string String(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
        _ => string.Empty,
    };

    /// <summary>64-bit ints arrive as JSON numbers, or as decimal strings from some versions.</summary>
    public static long Int(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.TryGetValue<long>(out var l) ? l : (long)v.GetValue<double>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String
                         && long.TryParse(v.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        _ => 0,
    };

    /// <summary>An XAPI datetime ("20261204T19:41:00Z", the JSON-RPC form of xapi's Date.t); null for none or the epoch xapi uses for never.</summary>
    public static DateTimeOffset? Date(JsonNode? node)
    {
        var text = String(node);
        string[] formats = ["yyyyMMdd'T'HH:mm:ss'Z'", "yyyyMMdd'T'HH:mm:ss", "yyyyMMdd'T'HH:mm:ss.FFF'Z'", "yyyy-MM-dd'T'HH:mm:ss'Z'"];
        return DateTimeOffset.TryParseExact(text, formats, System.Globalization.CultureInfo.InvariantCulture,
                   System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var at)
               && at.Year > 1970 ? at : null;
    }

    public static bool Bool(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    /// <summary>A set of strings (refs); a lone string (as some servers send error data) is a one-item list.</summary>
    public static List<string> Strings(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(String).ToList(),
        JsonValue v when v.GetValueKind() != JsonValueKind.Null => [String(v)],
        _ => [],
    };

    public static Dictionary<string, string> Map(JsonNode? node) =>
        node is JsonObject o ? o.ToDictionary(p => p.Key, p => String(p.Value), StringComparer.Ordinal) : new(StringComparer.Ordinal);

    public static bool IsNullRef(string? reference) => string.IsNullOrEmpty(reference) || reference == NullRef;

    /// <summary>
    /// Task results are XML-RPC encoded even over JSON-RPC: <c>&lt;value&gt;OpaqueRef:…&lt;/value&gt;</c>.
    /// Returns the inner text ("" for a void result).
    /// </summary>
    public static string DecodeTaskResult(string result)
    {
        if (string.IsNullOrWhiteSpace(result)) return string.Empty;
        try
        {
            return XElement.Parse(result).Value;
        }
        catch (System.Xml.XmlException)
        {
            return result; // already plain
        }
    }
}
