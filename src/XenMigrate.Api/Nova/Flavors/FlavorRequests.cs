using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova.Flavors;

/// <summary>
/// The flavor-manage and extra-spec bodies, checked as Nova's JSON schemas check them
/// (compute/schemas/flavor_manage.py, flavors_extraspecs.py): keyword by keyword in schema order,
/// the first failure answered with Nova's 400 message. Values are then read as nova/compute/flavors.py reads them.
/// </summary>
public static class FlavorRequests
{
    public const int MaxInt = int.MaxValue; // nova.db.constants.MAX_INT
    private const double FloatMax = 3.40282e+38; // SQL_SP_FLOAT_MAX
    private const string IdPattern = "^(?! )[a-zA-Z0-9. _-]+(?<! )$";
    private const string SpecKeyPattern = "^[a-zA-Z0-9-_:. ]{1,255}$";


    /// <summary>What POST /flavors asks for, once the schema passed and the values were read.</summary>
    public sealed record NewFlavor(string Name, string? Id, int Ram, int Vcpus, int Disk, int Ephemeral, int Swap, double RxtxFactor, bool IsPublic, string? Description);

    public static NewFlavor ReadCreate(JsonNode? root, bool withDescription)
    {
        string[] allowed = withDescription
            ? ["name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public", "description"]
            : ["name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public"];
        var body = RequireObject(root);
        if (body.TryGetPropertyValue("flavor", out var node))
        {
            if (node is not JsonObject f) throw Fail("flavor", node, $"{NovaValues.Repr(node)} is not of type 'object'");
            if (f.TryGetPropertyValue("name", out var name)) CheckName(name);
            if (f.TryGetPropertyValue("id", out var id)) CheckId(id);
            foreach (var (key, min) in new[] { ("ram", 1), ("vcpus", 1), ("disk", 0), ("OS-FLV-EXT-DATA:ephemeral", 0), ("swap", 0) })
                if (f.TryGetPropertyValue(key, out var n)) CheckInteger(key, n, min);
            if (f.TryGetPropertyValue("rxtx_factor", out var rxtx)) CheckRxtx(rxtx);
            if (f.TryGetPropertyValue("os-flavor-access:is_public", out var isPublic)) CheckBoolean("os-flavor-access:is_public", isPublic);
            if (withDescription && f.TryGetPropertyValue("description", out var description)) CheckDescription(description);
            foreach (var required in new[] { "name", "ram", "vcpus", "disk" })
                if (!f.ContainsKey(required)) throw Fail("flavor", f, $"'{required}' is a required property");
            CheckNoOthers("flavor", f, allowed);
        }

        if (!body.ContainsKey("flavor")) throw NovaFaultException.BadRequest("'flavor' is a required property");
        CheckNoOthers(null, body, ["flavor"]);

        var flavor = body["flavor"]!.AsObject();
        return new NewFlavor(
            Name: flavor["name"]!.GetValue<string>().Trim(),
            Id: IdOf(flavor["id"]),
            Ram: Integer("ram", flavor["ram"], 1),
            Vcpus: Integer("vcpus", flavor["vcpus"], 1),
            Disk: Integer("disk", flavor["disk"], 0),
            Ephemeral: Integer("ephemeral", flavor["OS-FLV-EXT-DATA:ephemeral"] ?? 0, 0),
            Swap: Integer("swap", flavor["swap"] ?? 0, 0),
            RxtxFactor: Rxtx(flavor["rxtx_factor"]),
            IsPublic: flavor["os-flavor-access:is_public"] is { } p ? BooleanOf(p) : true,
            Description: flavor["description"]?.GetValue<string>());
    }

    /// <summary>PUT /flavors/{id} (2.55): {"flavor":{"description":…}}, description required.</summary>
    public static string? ReadUpdate(JsonNode? root)
    {
        var body = RequireObject(root);
        if (body.TryGetPropertyValue("flavor", out var node))
        {
            if (node is not JsonObject f) throw Fail("flavor", node, $"{NovaValues.Repr(node)} is not of type 'object'");
            if (f.TryGetPropertyValue("description", out var description)) CheckDescription(description);
            if (!f.ContainsKey("description")) throw Fail("flavor", f, "'description' is a required property");
            CheckNoOthers("flavor", f, ["description"]);
        }
        else
        {
            throw NovaFaultException.BadRequest("'flavor' is a required property");
        }

        CheckNoOthers(null, body, ["flavor"]);
        return body["flavor"]!["description"]?.GetValue<string>();
    }

    /// <summary>POST /flavors/{id}/os-extra_specs: {"extra_specs":{key: string or number}}.</summary>
    public static IReadOnlyDictionary<string, string> ReadExtraSpecs(JsonNode? root)
    {
        var body = RequireObject(root);
        if (body.TryGetPropertyValue("extra_specs", out var node)) CheckSpecs("extra_specs", node);
        else throw NovaFaultException.BadRequest("'extra_specs' is a required property");
        CheckNoOthers(null, body, ["extra_specs"]);
        return Specs(body["extra_specs"]!.AsObject());
    }

    /// <summary>PUT /flavors/{id}/os-extra_specs/{key}: exactly one spec, the URL's key.</summary>
    public static string ReadExtraSpec(JsonNode? root, string key)
    {
        var body = RequireObject(root);
        CheckSpecs(null, body);
        if (body.Count < 1) throw NovaFaultException.BadRequest($"{NovaValues.Repr(body)} does not have enough properties");
        if (body.Count > 1) throw NovaFaultException.BadRequest($"{NovaValues.Repr(body)} has too many properties");
        if (!body.ContainsKey(key)) throw NovaFaultException.BadRequest("Request body and URI mismatch");
        return Specs(body)[key];
    }

    // ---- schema keywords ----------------------------------------------------------------------

    private static JsonObject RequireObject(JsonNode? root) =>
        root as JsonObject ?? throw NovaFaultException.BadRequest($"{NovaValues.Repr(root)} is not of type 'object'");

    private static void CheckName(JsonNode? name)
    {
        if (!IsString(name, out var s)) throw Fail("name", name, $"{NovaValues.Repr(name)} is not of type 'string'");
        if (s.Length < 1) throw Fail("name", name, $"{NovaValues.Repr(name)} is too short");
        if (s.Length > 255) throw Fail("name", name, $"{NovaValues.Repr(name)} is too long");
        // Nova's "name" format: printable, no leading or trailing whitespace (its own message, no prefix).
        if (!NovaParameterTypes.IsPrintableName(s))
            throw NovaFaultException.BadRequest("An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
    }

    private static void CheckId(JsonNode? id)
    {
        if (id is null) return;
        if (IsString(id, out var s))
        {
            if (s.Length < 1) throw Fail("id", id, $"{NovaValues.Repr(id)} is too short");
            if (s.Length > 255) throw Fail("id", id, $"{NovaValues.Repr(id)} is too long");
            if (!System.Text.RegularExpressions.Regex.IsMatch(s, IdPattern)) throw Fail("id", id, $"{NovaValues.Repr(id)} does not match '{IdPattern}'");
            return;
        }

        if (id is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
            throw Fail("id", id, $"{NovaValues.Repr(id)} is not of type 'string', 'number', 'null'");
    }

    private static void CheckInteger(string key, JsonNode? node, int min)
    {
        if (IsString(node, out var s))
        {
            if (!s.All(char.IsAsciiDigit)) throw Fail(key, node, $"{NovaValues.Repr(node)} does not match '^[0-9]*$'");
            return;
        }

        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<long>(out var n))
        {
            var big = node is JsonValue b && b.GetValueKind() == JsonValueKind.Number && b.ToJsonString().All(c => char.IsAsciiDigit(c) || c == '-');
            if (!big) throw Fail(key, node, $"{NovaValues.Repr(node)} is not of type 'integer', 'string'");
            var text = node!.ToJsonString();
            throw Fail(key, node, text.StartsWith('-') ? $"{text} is less than the minimum of {min}" : $"{text} is greater than the maximum of {MaxInt}");
        }

        if (n < min) throw Fail(key, node, $"{n} is less than the minimum of {min}");
        if (n > MaxInt) throw Fail(key, node, $"{n} is greater than the maximum of {MaxInt}");
    }

    private static void CheckRxtx(JsonNode? node)
    {
        if (IsString(node, out var s))
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(s, @"^[0-9]+(\.[0-9]+)?$"))
                throw Fail("rxtx_factor", node, $"{NovaValues.Repr(node)} does not match '^[0-9]+(\\\\.[0-9]+)?$'");
            return;
        }

        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
            throw Fail("rxtx_factor", node, $"{NovaValues.Repr(node)} is not of type 'number', 'string'");
        var d = v.GetValue<double>();
        if (d <= 0) throw Fail("rxtx_factor", node, $"{NovaValues.Repr(node)} is less than or equal to the minimum of 0");
        if (d > FloatMax) throw Fail("rxtx_factor", node, $"{NovaValues.Repr(node)} is greater than the maximum of 3.40282e+38");
    }

    private static void CheckBoolean(string key, JsonNode? node)
    {
        if (!NovaParameterTypes.IsBoolean(node)) throw Fail(key, node, NovaParameterTypes.BooleanError(node));
    }

    private static void CheckDescription(JsonNode? node)
    {
        if (node is null) return;
        if (!IsString(node, out var s)) throw Fail("description", node, $"{NovaValues.Repr(node)} is not of type 'string', 'null'");
        if (s.Length > 65535) throw Fail("description", node, $"{NovaValues.Repr(node)} is too long");
        // Nova's valid_description_regex: printable characters (line breaks aside) only.
        if (s.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            throw Fail("description", node, $"{NovaValues.Repr(node)} does not match the printable-characters pattern");
    }

    /// <summary>Nova's metadata type, numbers allowed: keys match the pattern, values are strings or numbers of at most 255 characters.</summary>
    private static void CheckSpecs(string? field, JsonNode? node)
    {
        if (node is not JsonObject specs) throw Fail(field ?? "extra_specs", node, $"{NovaValues.Repr(node)} is not of type 'object'");
        foreach (var (key, value) in specs)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(key, SpecKeyPattern)) continue; // additionalProperties reports it below
            var kind = value?.GetValueKind();
            if (kind is not (JsonValueKind.String or JsonValueKind.Number)) throw Fail(key, value, $"{NovaValues.Repr(value)} is not of type 'string', 'number'");
            if (kind == JsonValueKind.String && value!.GetValue<string>().Length > 255) throw Fail(key, value, $"{NovaValues.Repr(value)} is too long");
            if (kind == JsonValueKind.Number && value!.ToJsonString().Length > 255)
                throw NovaFaultException.BadRequest("Invalid input received: extra_specs value has more than 255 characters.");
        }

        var unexpected = specs.Select(p => p.Key).Where(k => !System.Text.RegularExpressions.Regex.IsMatch(k, SpecKeyPattern)).ToList();
        if (unexpected.Count > 0) throw Additional(field, specs, unexpected);
    }

    private static void CheckNoOthers(string? field, JsonObject o, string[] allowed)
    {
        var unexpected = o.Select(p => p.Key).Where(k => !allowed.Contains(k)).ToList();
        if (unexpected.Count > 0) throw Additional(field, o, unexpected);
    }

    private static NovaFaultException Additional(string? field, JsonObject o, List<string> unexpected)
    {
        var detail = "Additional properties are not allowed (" + string.Join(", ", unexpected.Select(k => $"'{k}'"))
                     + (unexpected.Count == 1 ? " was unexpected)" : " were unexpected)");
        return field is null ? NovaFaultException.BadRequest(detail) : Fail(field, o, detail);
    }

    // ---- values, as nova/compute/flavors.py create reads them ---------------------------------

    /// <summary>Nova's str(flavorid); no id (null, or a falsy one) means a generated uuid.</summary>
    private static string? IdOf(JsonNode? id)
    {
        if (id is null) return null;
        if (IsString(id, out var s)) return s;
        var text = id.ToJsonString();
        return id.AsValue().TryGetValue<long>(out var n) ? (n == 0 ? null : n.ToString(CultureInfo.InvariantCulture)) : text;
    }

    /// <summary>utils.validate_integer: strings of digits allowed, with Nova's "Invalid input received" messages.</summary>
    private static int Integer(string name, JsonNode? node, int min)
    {
        var text = IsString(node, out var s) ? s : node!.ToJsonString();
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            if (text.Length > 0 && text.All(char.IsAsciiDigit)) throw Invalid($"{name} must be <= {MaxInt}");
            throw Invalid($"{name} must be an integer");
        }

        if (n < min) throw Invalid($"{name} must be >= {min}");
        if (n > MaxInt) throw Invalid($"{name} must be <= {MaxInt}");
        return (int)n;
    }

    private static double Rxtx(JsonNode? node)
    {
        if (node is null) return 1.0;
        var value = IsString(node, out var s) ? double.Parse(s, CultureInfo.InvariantCulture) : node.GetValue<double>();
        if (value <= 0 || value > FloatMax) throw Invalid("'rxtx_factor' argument must be a float between 0 and 3.40282e+38");
        return value;
    }

    private static bool BooleanOf(JsonNode node) =>
        node.GetValueKind() == JsonValueKind.String ? NovaParameterTypes.TrueWords.Contains(node.GetValue<string>()) : node.GetValue<bool>();

    /// <summary>Extra spec values are stored as text (Nova: str(value)).</summary>
    private static Dictionary<string, string> Specs(JsonObject o) =>
        o.ToDictionary(p => p.Key, p => IsString(p.Value, out var s) ? s : p.Value!.ToJsonString(), StringComparer.Ordinal);

    // ---- helpers ------------------------------------------------------------------------------

    private static bool IsString(JsonNode? node, out string value)
    {
        value = node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : string.Empty;
        return node is JsonValue x && x.GetValueKind() == JsonValueKind.String;
    }

    private static NovaFaultException Fail(string field, JsonNode? value, string detail) =>
        NovaFaultException.BadRequest(NovaMessages.InvalidInput(field, value, detail));

    private static NovaFaultException Invalid(string reason) => NovaFaultException.BadRequest($"Invalid input received: {reason}");


}
