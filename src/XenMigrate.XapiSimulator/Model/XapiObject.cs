using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// One object of the model: its class, opaque ref and record (every field of the class, held as
/// the JSON values xapi sends). Mutations go through the setters so that <c>event.from</c> sees
/// them. Use only while holding <see cref="XapiDatabase.Sync"/>.
/// </summary>
internal sealed class XapiObject
{
    private readonly XapiDatabase _database;

    internal XapiObject(XapiDatabase database, XapiClass cls, string opaqueRef, JsonObject fields)
    {
        _database = database;
        Class = cls;
        Ref = opaqueRef;
        Fields = fields;
    }

    public XapiClass Class { get; }

    public string ClassName => Class.Name;

    public string Ref { get; }

    public string Uuid => GetString("uuid");

    public JsonObject Fields { get; }

    /// <summary>Generation at which the object was created / last changed (event.from tokens).</summary>
    public long CreatedGeneration { get; set; }

    public long ModifiedGeneration { get; set; }

    public DateTimeOffset ModifiedAt { get; set; }

    public JsonObject Snapshot() => (JsonObject)Fields.DeepClone();

    public JsonNode? Get(string field) => Field(field);

    public string GetString(string field) => Field(field)?.GetValue<string>() ?? string.Empty;

    public long GetLong(string field) => Field(field)?.GetValue<long>() ?? 0;

    public double GetDouble(string field) => Field(field)?.GetValue<double>() ?? 0;

    public bool GetBool(string field) => Field(field)?.GetValue<bool>() ?? false;

    public IReadOnlyList<string> GetStrings(string field) =>
        Field(field)?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [];

    public IReadOnlyDictionary<string, string> GetStringMap(string field) =>
        Field(field)?.AsObject().ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal)
        ?? new Dictionary<string, string>(StringComparer.Ordinal);

    public void Set(string field, JsonNode? value)
    {
        CheckField(field);
        Fields[field] = value;
        _database.Touch(this);
    }

    public void Set(string field, string value) => Set(field, JsonValue.Create(value));

    public void Set(string field, long value) => Set(field, JsonValue.Create(value));

    public void Set(string field, double value) => Set(field, JsonValue.Create(value));

    public void Set(string field, bool value) => Set(field, JsonValue.Create(value));

    public void SetMapEntry(string field, string key, string value)
    {
        Field(field)!.AsObject()[key] = value;
        _database.Touch(this);
    }

    public bool RemoveMapEntry(string field, string key)
    {
        var removed = Field(field)!.AsObject().Remove(key);
        if (removed) _database.Touch(this);
        return removed;
    }

    public void AddToSet(string field, string value)
    {
        var array = Field(field)!.AsArray();
        if (array.Any(n => n?.GetValue<string>() == value)) return;
        array.Add(value);
        _database.Touch(this);
    }

    public void RemoveFromSet(string field, string value)
    {
        var array = Field(field)!.AsArray();
        var item = array.FirstOrDefault(n => n?.GetValue<string>() == value);
        if (item is null) return;
        array.Remove(item);
        _database.Touch(this);
    }

    private JsonNode? Field(string field)
    {
        CheckField(field);
        return Fields[field];
    }

    private void CheckField(string field)
    {
        if (!Class.FieldsByName.ContainsKey(field))
            throw new InvalidOperationException($"{Class.Name} has no field '{field}'.");
    }
}
