using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// Trailing parameters that xapi fills in when a caller omits them (each was appended in a later
/// release, and older hosts reject it). The published model (<c>xenapi.json</c>) leaves out
/// <c>param_default</c>; <c>Model/xapi-param-defaults.json</c> lists every one of xapi's
/// <c>datamodel*.ml</c> for the messages the model has.
/// </summary>
internal sealed class ParameterDefaults
{
    private readonly Dictionary<(string Class, string Message, string Param), JsonNode?> _defaults = new();

    public ParameterDefaults(JsonArray entries)
    {
        foreach (var entry in entries)
            _defaults[((string)entry!["class"]!, (string)entry["message"]!, (string)entry["param"]!)] = entry["default"]?.DeepClone();
    }

    /// <summary>The default of a parameter, or null when the caller must send it.</summary>
    public JsonNode? Find(string className, string message, string parameter) =>
        _defaults.TryGetValue((className, message, parameter), out var value) ? value?.DeepClone() ?? JsonValue.Create(string.Empty) : null;

    public IEnumerable<(string Class, string Message, string Param)> All => _defaults.Keys;
}
