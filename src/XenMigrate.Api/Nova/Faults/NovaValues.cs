using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Api.Nova.Faults;

/// <summary>
/// How Nova's messages print a request's values. Nova's validator is Python's jsonschema: its
/// reasons quote the value with <c>repr()</c> (<c>'abc' is too long</c>, <c>None</c>, <c>True</c>),
/// and nova/api/validation/validators.py puts the value itself with <c>str()</c>
/// (<c>Value: abc.</c>). The only renderer of values in messages, so every schema agrees.
/// </summary>
public static class NovaValues
{
    /// <summary>Python's repr() of a JSON value, as jsonschema's reasons quote it.</summary>
    public static string Repr(JsonNode? node) => node switch
    {
        null => "None",
        JsonObject o => "{" + string.Join(", ", o.Select(p => $"{Quote(p.Key)}: {Repr(p.Value)}")) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(Repr)) + "]",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Quote(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() == JsonValueKind.True => "True",
        JsonValue v when v.GetValueKind() == JsonValueKind.False => "False",
        _ => node.ToJsonString(),
    };

    /// <summary>Python's str() of a JSON value: a string bare, anything else as repr().</summary>
    public static string Str(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : Repr(node);

    private static string Quote(string s) =>
        "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
