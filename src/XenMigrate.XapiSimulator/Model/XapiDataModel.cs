using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

public enum FieldQualifier
{
    ReadWrite,
    ReadOnlyConstructor,
    ReadOnlyRuntime,
}

public sealed record XapiEnum(string Name, IReadOnlyList<string> Values);

public sealed record XapiField(string Name, XapiType Type, FieldQualifier Qualifier, string? DefaultLiteral)
{
    /// <summary>A constructor argument that <c>X.create</c> cannot do without (RW or RO/constructor, no default).</summary>
    public bool IsRequiredInConstructor => Qualifier != FieldQualifier.ReadOnlyRuntime && DefaultLiteral is null;

    public bool IsConstructorArgument => Qualifier != FieldQualifier.ReadOnlyRuntime;
}

public sealed record XapiParameter(string Name, XapiType Type, JsonNode? Default)
{
    public bool HasDefault => Default is not null;
}

public sealed record XapiMessage(string ClassName, string Name, IReadOnlyList<XapiParameter> Parameters, XapiType Result, bool IsImplicit)
{
    public string FullName => $"{ClassName}.{Name}";

    /// <summary>How many leading parameters a caller must send: the rest have defaults (older hosts lack them).</summary>
    public int RequiredCount
    {
        get
        {
            var n = Parameters.Count;
            while (n > 0 && Parameters[n - 1].HasDefault) n--;
            return n;
        }
    }

    public bool TakesSession => Parameters.Count > 0 && Parameters[0].Type is { Kind: XapiTypeKind.Ref, Name: "session" };

    /// <summary>
    /// xapi offers <c>Async.</c> for calls that do work; not for field accessors, sessions or events.
    /// </summary>
    public bool SupportsAsync =>
        ClassName is not ("session" or "event" or "task") && (!IsImplicit || Name is "create" or "destroy");
}

public sealed class XapiClass
{
    internal XapiClass(string name, IReadOnlyList<XapiField> fields, IReadOnlyList<XapiMessage> messages, IReadOnlyList<string> namespaces)
    {
        Name = name;
        Fields = fields;
        FieldsByName = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        MessageList = messages;
        Messages = messages.ToDictionary(m => m.Name, StringComparer.Ordinal);
        FieldsByColumn = fields.ToDictionary(f => ColumnName(f.Name, namespaces), StringComparer.Ordinal);
    }

    public string Name { get; }

    /// <summary>The class name in events and <c>event.from</c> subscriptions ("vm", "vdi").</summary>
    public string EventName => Name.ToLowerInvariant();

    public IReadOnlyList<XapiField> Fields { get; }

    public IReadOnlyDictionary<string, XapiField> FieldsByName { get; }

    public IReadOnlyDictionary<string, XapiMessage> Messages { get; }

    /// <summary>The messages in the model's order.</summary>
    public IReadOnlyList<XapiMessage> MessageList { get; }

    /// <summary>
    /// Fields by their database column name: a field of namespace N is N_x on the wire and N__x in
    /// xapi's database (escaping.ml escape_id), e.g. VM.name__label, VM.memory__static_max.
    /// </summary>
    public IReadOnlyDictionary<string, XapiField> FieldsByColumn { get; }

    private static string ColumnName(string field, IReadOnlyList<string> namespaces)
    {
        foreach (var ns in namespaces)
        {
            if (field.Length > ns.Length + 1 && field.StartsWith(ns + "_", StringComparison.Ordinal))
                return ns + "__" + field[(ns.Length + 1)..];
        }

        return field;
    }
}

/// <summary>
/// The XAPI data model (classes, fields, messages, enums), read from the copy of xapi's
/// <c>xenapi.json</c> embedded in this assembly; it drives records, getters/setters, parameter
/// counts and constructor checks.
/// </summary>
public sealed class XapiDataModel
{
    private const string ResourceName = "XenMigrate.XapiSimulator.Model.xenapi-datamodel.json";
    private const string DefaultsResourceName = "XenMigrate.XapiSimulator.Model.xapi-param-defaults.json";
    private const string HiddenResourceName = "XenMigrate.XapiSimulator.Model.xapi-hidden-messages.json";
    private const string NamespacesResourceName = "XenMigrate.XapiSimulator.Model.xapi-field-namespaces.json";

    private static readonly Lazy<XapiDataModel> Shared = new(LoadEmbedded);

    private readonly Dictionary<string, XapiClass> _classes;
    private readonly Dictionary<string, XapiClass> _classesByEventName;
    private readonly Dictionary<string, XapiEnum> _enums;
    private IReadOnlyList<string>? _wireNames;

    private XapiDataModel(JsonArray document, ParameterDefaults defaults, JsonObject hidden, JsonObject namespaces)
    {
        var hiddenMessages = hidden["messages"]!.AsArray();
        var perClass = hidden["per_class"]!.AsObject();
        var alongside = (string)perClass["alongside"]!;
        Defaults = defaults;
        _enums = new Dictionary<string, XapiEnum>(StringComparer.Ordinal);
        foreach (var cls in document)
        {
            foreach (var e in cls!["enums"]!.AsArray())
            {
                var name = (string)e!["name"]!;
                _enums.TryAdd(name, new XapiEnum(name, e["values"]!.AsArray().Select(v => (string)v!["name"]!).ToList()));
            }
        }

        _classes = new Dictionary<string, XapiClass>(StringComparer.Ordinal);
        foreach (var cls in document)
        {
            var className = (string)cls!["name"]!;
            var fields = cls["fields"]!.AsArray().Select(f => new XapiField(
                (string)f!["name"]!,
                XapiType.Parse((string)f["type"]!),
                ParseQualifier((string)f["qualifier"]!),
                (string?)f["default"])).ToList();
            var messages = cls["messages"]!.AsArray().Select(m =>
            {
                var name = (string)m!["name"]!;
                var parameters = m["params"]!.AsArray().Select(p =>
                {
                    var paramName = (string)p!["name"]!;
                    var type = XapiType.Parse((string)p["type"]!);
                    return new XapiParameter(paramName, type, defaults.Find(className, name, paramName));
                }).ToList();
                var result = XapiType.Parse((string)m["result"]![0]!);
                return new XapiMessage(className, name, parameters, result, (bool?)m["implicit"] ?? false);
            }).ToList();
            // Hidden messages (not in the published model) that real hosts serve all the same.
            foreach (var message in hiddenMessages.Where(h => (string?)h!["class"] == className))
                messages.Add(HiddenMessage(className, message!, isImplicit: false));
            // The ones xapi generates for every database class with (implicit) get_all_records
            // (datamodel_utils.ml messages_of_obj); "message", not in the database, has its own.
            if (messages.Any(m => m.Name == alongside && m.IsImplicit))
            {
                foreach (var message in perClass["messages"]!.AsArray())
                    messages.Add(HiddenMessage(className, message!, isImplicit: true));
            }

            var classNamespaces = namespaces["namespaces"]![className]?.AsArray().Select(n => (string)n!).ToList() ?? [];
            _classes[className] = new XapiClass(className, fields, messages, classNamespaces);
        }

        _classesByEventName = _classes.Values.ToDictionary(c => c.EventName, StringComparer.OrdinalIgnoreCase);
    }

    public static XapiDataModel Instance => Shared.Value;

    /// <summary>
    /// Every synchronous wire name, as <c>system.listMethods</c> lists them (gen_server.ml): each
    /// class's messages, implicit accessors and hidden ones included, in the model's order.
    /// </summary>
    public IReadOnlyList<string> WireNames => _wireNames ??= _classes.Values.SelectMany(c => c.MessageList.Select(m => m.FullName)).ToList();

    /// <summary>Every param_default xapi declares for the model's messages.</summary>
    internal ParameterDefaults Defaults { get; }

    public IReadOnlyCollection<XapiClass> Classes => _classes.Values;

    public XapiClass? FindClass(string name) => _classes.GetValueOrDefault(name);

    public XapiClass GetClass(string name) =>
        _classes.TryGetValue(name, out var cls) ? cls : throw new KeyNotFoundException($"No XAPI class '{name}'.");

    public XapiClass? FindClassByEventName(string eventName) => _classesByEventName.GetValueOrDefault(eventName);

    public XapiEnum? FindEnum(string name) => _enums.GetValueOrDefault(name);

    public XapiMessage? FindMessage(string fullName)
    {
        var dot = fullName.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0) return null;
        return FindClass(fullName[..dot]) is { } cls && cls.Messages.TryGetValue(fullName[(dot + 1)..], out var message) ? message : null;
    }

    /// <summary>The value of a field in a fresh object: its declared default, else its type's zero.</summary>
    public JsonNode? DefaultValue(XapiField field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.DefaultLiteral is { } literal ? field.Type.ParseDefault(literal, this) : field.Type.ZeroValue(this);
    }

    private static FieldQualifier ParseQualifier(string q) => q switch
    {
        "RW" => FieldQualifier.ReadWrite,
        "RO/constructor" => FieldQualifier.ReadOnlyConstructor,
        _ => FieldQualifier.ReadOnlyRuntime,
    };

    private static XapiMessage HiddenMessage(string className, JsonNode hidden, bool isImplicit)
    {
        string Spell(string type) => type.Replace("{class}", className, StringComparison.Ordinal);
        var parameters = hidden["params"]!.AsArray()
            .Select(p => new XapiParameter((string)p!["name"]!, XapiType.Parse(Spell((string)p["type"]!)), null)).ToList();
        return new XapiMessage(className, (string)hidden["name"]!, parameters, XapiType.Parse(Spell((string)hidden["result"]!)), isImplicit);
    }

    private static XapiDataModel LoadEmbedded()
    {
        var document = Resource(ResourceName).AsArray();
        var defaults = new ParameterDefaults(Resource(DefaultsResourceName)["defaults"]!.AsArray());
        return new XapiDataModel(document, defaults, Resource(HiddenResourceName).AsObject(), Resource(NamespacesResourceName).AsObject());
    }

    internal static JsonNode Resource(string name)
    {
        using var stream = typeof(XapiDataModel).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        return JsonNode.Parse(stream) ?? throw new InvalidOperationException($"Embedded resource {name} is empty.");
    }
}
