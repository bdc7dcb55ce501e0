using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

public enum XapiTypeKind
{
    Void,
    String,
    Int,
    Float,
    Bool,
    DateTime,
    Enum,
    Ref,
    Set,
    Map,
    Record,
    Option,
}

/// <summary>
/// A type as the data model spells it ("int", "VM ref set", "(string -> enum vm_operations) map"…),
/// with the JSON-RPC coercions xapi applies to values of that type.
/// </summary>
public sealed record XapiType(XapiTypeKind Kind, string? Name = null, XapiType? Element = null, XapiType? Key = null)
{
    public const string NullRef = "OpaqueRef:NULL";

    private static readonly XapiType StringType = new(XapiTypeKind.String);

    public static XapiType Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.StartsWith('(') && t.EndsWith(") map", StringComparison.Ordinal))
        {
            var inner = t[1..^") map".Length];
            var arrow = FindTopLevelArrow(inner);
            return new XapiType(XapiTypeKind.Map, Key: Parse(inner[..arrow]), Element: Parse(inner[(arrow + 4)..]));
        }

        if (t.EndsWith(" set", StringComparison.Ordinal)) return new XapiType(XapiTypeKind.Set, Element: Parse(t[..^4]));
        if (t.EndsWith(" option", StringComparison.Ordinal)) return new XapiType(XapiTypeKind.Option, Element: Parse(t[..^7]));
        if (t == "an event batch") return new XapiType(XapiTypeKind.Record, "event batch");
        if (t.EndsWith(" ref", StringComparison.Ordinal)) return new XapiType(XapiTypeKind.Ref, t[..^4]);
        if (t.EndsWith(" record", StringComparison.Ordinal)) return new XapiType(XapiTypeKind.Record, t[..^7]);
        if (t.StartsWith("enum ", StringComparison.Ordinal)) return new XapiType(XapiTypeKind.Enum, t[5..]);
        return t switch
        {
            "void" => new XapiType(XapiTypeKind.Void),
            "string" => StringType,
            "int" => new XapiType(XapiTypeKind.Int),
            "float" => new XapiType(XapiTypeKind.Float),
            "bool" => new XapiType(XapiTypeKind.Bool),
            "datetime" => new XapiType(XapiTypeKind.DateTime),
            _ => throw new FormatException($"Unknown XAPI type '{text}'."),
        };
    }

    private static int FindTopLevelArrow(string inner)
    {
        var depth = 0;
        for (var i = 0; i < inner.Length - 3; i++)
        {
            if (inner[i] == '(') depth++;
            else if (inner[i] == ')') depth--;
            else if (depth == 0 && string.CompareOrdinal(inner, i, " -> ", 0, 4) == 0) return i;
        }

        throw new FormatException($"No '->' in map type '({inner}) map'.");
    }

    /// <summary>The value a field of this type holds when nothing set it.</summary>
    public JsonNode? ZeroValue(XapiDataModel model) => Kind switch
    {
        XapiTypeKind.String => JsonValue.Create(string.Empty),
        XapiTypeKind.Int => JsonValue.Create(0L),
        XapiTypeKind.Float => JsonValue.Create(0.0),
        XapiTypeKind.Bool => JsonValue.Create(false),
        XapiTypeKind.DateTime => JsonValue.Create(XapiDateTime.Epoch),
        XapiTypeKind.Enum => JsonValue.Create(model.FindEnum(Name!) is { Values.Count: > 0 } e ? e.Values[0] : string.Empty),
        XapiTypeKind.Ref => JsonValue.Create(NullRef),
        XapiTypeKind.Set => new JsonArray(),
        XapiTypeKind.Map => new JsonObject(),
        XapiTypeKind.Record => new JsonObject(),
        _ => null,
    };

    /// <summary>
    /// Reads the data model's default literals: <c>""</c>, <c>{}</c>, <c>{0}</c>, <c>1.</c>, <c>Null</c>,
    /// <c>{"address" -> "localhost"}</c>, enum names…
    /// </summary>
    public JsonNode? ParseDefault(string literal, XapiDataModel model)
    {
        ArgumentNullException.ThrowIfNull(literal);
        switch (Kind)
        {
            case XapiTypeKind.String:
                return JsonValue.Create(Unquote(literal));
            case XapiTypeKind.Int:
                return JsonValue.Create(long.Parse(literal, CultureInfo.InvariantCulture));
            case XapiTypeKind.Float:
                return JsonValue.Create(double.Parse(literal.TrimEnd('.'), CultureInfo.InvariantCulture));
            case XapiTypeKind.Bool:
                return JsonValue.Create(literal == "true");
            case XapiTypeKind.DateTime:
                return JsonValue.Create(Unquote(literal));
            case XapiTypeKind.Ref:
                return JsonValue.Create(literal is "Null" or NullRef ? NullRef : literal);
            case XapiTypeKind.Enum:
                return Coerce(JsonValue.Create(Unquote(literal)), model, out var e) ? e : ZeroValue(model);
            case XapiTypeKind.Set:
            {
                var array = new JsonArray();
                foreach (var item in SplitBraces(literal)) array.Add(Element!.ParseDefault(item, model));
                return array;
            }

            case XapiTypeKind.Map:
            {
                var map = new JsonObject();
                foreach (var pair in SplitBraces(literal))
                {
                    var parts = pair.Split(" -> ", 2);
                    map[Unquote(parts[0])] = Element!.ParseDefault(parts[1], model);
                }

                return map;
            }

            default:
                return ZeroValue(model);
        }
    }

    private static IEnumerable<string> SplitBraces(string literal)
    {
        var inner = literal.Trim().TrimStart('{').TrimEnd('}').Trim();
        return inner.Length == 0 ? [] : inner.Split(", ").Select(s => s.Trim());
    }

    private static string Unquote(string s) => s.Length >= 2 && s[0] == '"' && s[^1] == '"' ? s[1..^1] : s;

    /// <summary>
    /// Checks and normalises a value received over JSON-RPC: ints may come as decimal strings
    /// (ocaml-rpc accepts both), enums are matched without regard to case and answered in the data
    /// model's casing, map keys are strings on the wire.
    /// </summary>
    public bool Coerce(JsonNode? value, XapiDataModel model, out JsonNode? result)
    {
        ArgumentNullException.ThrowIfNull(model);
        result = null;
        switch (Kind)
        {
            case XapiTypeKind.String:
            case XapiTypeKind.DateTime:
                if (value is JsonValue s && s.TryGetValue<string>(out var str)) { result = JsonValue.Create(str); return true; }
                return false;
            case XapiTypeKind.Ref:
                if (value is JsonValue r && r.TryGetValue<string>(out var refText)) { result = JsonValue.Create(refText); return true; }
                return false;
            case XapiTypeKind.Int:
                if (TryReadLong(value, out var l)) { result = JsonValue.Create(l); return true; }
                return false;
            case XapiTypeKind.Float:
                if (TryReadDouble(value, out var d)) { result = JsonValue.Create(d); return true; }
                return false;
            case XapiTypeKind.Bool:
                if (value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False) { result = JsonValue.Create(b.GetValue<bool>()); return true; }
                return false;
            case XapiTypeKind.Enum:
            {
                if (value is not JsonValue ev || !ev.TryGetValue<string>(out var name)) return false;
                var values = model.FindEnum(Name!)?.Values;
                var match = values?.FirstOrDefault(v => string.Equals(v, name, StringComparison.OrdinalIgnoreCase));
                if (match is null) return false;
                result = JsonValue.Create(match);
                return true;
            }

            case XapiTypeKind.Set:
            {
                if (value is not JsonArray items) return false;
                var array = new JsonArray();
                foreach (var item in items)
                {
                    if (!Element!.Coerce(item, model, out var coerced)) return false;
                    array.Add(coerced);
                }

                result = array;
                return true;
            }

            case XapiTypeKind.Map:
            {
                if (value is not JsonObject entries) return false;
                var map = new JsonObject();
                foreach (var (key, item) in entries)
                {
                    if (!Key!.Coerce(JsonValue.Create(key), model, out var coercedKey)) return false;
                    if (!Element!.Coerce(item, model, out var coerced)) return false;
                    map[coercedKey!.ToString()] = coerced;
                }

                result = map;
                return true;
            }

            case XapiTypeKind.Record:
                if (value is not JsonObject record) return false;
                result = record.DeepClone();
                return true;
            case XapiTypeKind.Option:
                return value is null || Element!.Coerce(value, model, out result);
            default:
                return false;
        }
    }

    private static bool TryReadLong(JsonNode? value, out long result)
    {
        result = 0;
        if (value is not JsonValue v) return false;
        switch (v.GetValueKind())
        {
            case JsonValueKind.Number:
                if (v.TryGetValue(out result)) return true;
                if (v.TryGetValue<double>(out var d) && Math.Abs(d % 1) == 0 && Math.Abs(d) < 9.2e18) { result = (long)d; return true; }
                return false;
            case JsonValueKind.String:
                return long.TryParse(v.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
            default:
                return false;
        }
    }

    private static bool TryReadDouble(JsonNode? value, out double result)
    {
        result = 0;
        if (value is not JsonValue v) return false;
        return v.GetValueKind() switch
        {
            // ocaml-rpc's float_of_rpc takes an Int as well (an XML-RPC <int> for a float parameter).
            JsonValueKind.Number => v.TryGetValue(out result) || (v.TryGetValue<long>(out var l) && (result = l) == l),
            JsonValueKind.String => double.TryParse(v.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out result),
            _ => false,
        };
    }

    public override string ToString() => Kind switch
    {
        XapiTypeKind.Enum => $"enum {Name}",
        XapiTypeKind.Ref => $"{Name} ref",
        XapiTypeKind.Record => $"{Name} record",
        XapiTypeKind.Set => $"{Element} set",
        XapiTypeKind.Option => $"{Element} option",
        XapiTypeKind.Map => $"({Key} -> {Element}) map",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}
