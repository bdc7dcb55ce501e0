using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova;

/// <summary>Nova's api/validation/parameter_types, where more than one schema needs the same one.</summary>
public static class NovaParameterTypes
{
    /// <summary>parameter_types.boolean's strings meaning true (besides JSON true).</summary>
    public static readonly string[] TrueWords = ["True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"];

    /// <summary>parameter_types.boolean's strings meaning false (besides JSON false).</summary>
    public static readonly string[] FalseWords = ["False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"];

    /// <summary>The enum as jsonschema prints it in its message.</summary>
    public static readonly string BooleanEnum =
        "[True, " + string.Join(", ", TrueWords.Select(w => $"'{w}'")) + ", False, " + string.Join(", ", FalseWords.Select(w => $"'{w}'")) + "]";

    public static bool IsBoolean(JsonNode? node) => node is JsonValue v && v.GetValueKind() switch
    {
        JsonValueKind.True or JsonValueKind.False => true,
        JsonValueKind.String => TrueWords.Contains(v.GetValue<string>()) || FalseWords.Contains(v.GetValue<string>()),
        _ => false,
    };

    /// <summary>jsonschema's reason when a value is not parameter_types.boolean: a wrong word, or a wrong type.</summary>
    public static string BooleanError(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String
        ? $"{NovaValues.Repr(node)} is not one of {BooleanEnum}"
        : $"{NovaValues.Repr(node)} is not of type 'boolean', 'string'";

    public static bool IsTrue(JsonNode? node) => node is JsonValue v
        && (v.GetValueKind() == JsonValueKind.True || v.GetValueKind() == JsonValueKind.String && TrueWords.Contains(v.GetValue<string>()));

    /// <summary>JSON Schema's "type": "string".</summary>
    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    /// <summary>
    /// valid_name_regex: printable characters (no control, format, unassigned or line separators,
    /// so no zero-width space either), no whitespace at either end.
    /// </summary>
    public static bool IsPrintableName(string name) =>
        name.Length > 0 && !char.IsWhiteSpace(name[0]) && !char.IsWhiteSpace(name[^1])
        && name.EnumerateRunes().All(r => System.Text.Rune.GetUnicodeCategory(r) is not (UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator));

    /// <summary>
    /// Why a value is not parameter_types.name (a string of 1–255 printable characters, no
    /// whitespace at either end), as Nova answers it; null when it is one.
    /// </summary>
    public static string? NameError(string field, JsonNode? node)
    {
        if (!IsString(node)) return NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is not of type 'string'");
        var text = node!.GetValue<string>();
        if (text.Length == 0) return NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is too short");
        if (text.Length > 255) return NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is too long");
        return IsPrintableName(text) ? null : NovaMessages.InvalidServerName;
    }

    /// <summary>
    /// Why a value is not parameter_types.positive_integer (an integer of at least 1, or a
    /// non-empty string of digits), in jsonschema's order of keywords; null when it is one.
    /// </summary>
    public static string? PositiveIntegerError(string field, JsonNode? node)
    {
        var kind = node is JsonValue v ? v.GetValueKind() : JsonValueKind.Undefined;
        if (kind == JsonValueKind.Number && node!.AsValue().TryGetValue<long>(out var number))
            return number >= 1 ? null : NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is less than the minimum of 1");
        if (kind != JsonValueKind.String) return NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is not of type 'integer', 'string'");
        var text = node!.GetValue<string>();
        if (!text.All(char.IsAsciiDigit)) return NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} does not match '^[0-9]*$'");
        return text.Length == 0 ? NovaMessages.InvalidInput(field, node, $"{NovaValues.Repr(node)} is too short") : null;
    }

    /// <summary>
    /// The value of a schema-checked parameter_types.positive_integer (an integer, or a string of
    /// digits, which the schema lets through even when it is "0"), clamped to int; null when absent.
    /// </summary>
    public static int? PositiveIntegerValue(JsonNode? node) => node is JsonValue v
        ? (int)Math.Min(int.MaxValue, v.GetValueKind() == JsonValueKind.Number ? v.GetValue<long>()
            : long.TryParse(v.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue)
        : null;
}
