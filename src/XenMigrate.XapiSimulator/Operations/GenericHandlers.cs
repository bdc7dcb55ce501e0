using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// The calls xapi generates for every class from its fields (get_all, get_all_records, the hidden
/// get_all_where / get_all_records_where, get_record, get_by_uuid, get_by_name_label, get_/set_ per field, add_to_/remove_from_ for maps,
/// add_/remove_ for sets, and plain create/destroy), driven by the data model.
/// </summary>
internal static class GenericHandlers
{
    public static XapiHandler? For(XapiMessage message, XapiClass cls)
    {
        var name = message.Name;
        switch (name)
        {
            case "get_all":
                return call => Locked(call, () => new JsonArray(call.Db.All(cls.Name).Select(o => (JsonNode?)o.Ref).ToArray()));
            case "get_all_records":
                return call => Locked(call, () =>
                {
                    var records = new JsonObject();
                    foreach (var obj in call.Db.All(cls.Name)) records[obj.Ref] = obj.Snapshot();
                    return records;
                });
            case "get_all_where":
                // Hidden (datamodel_utils.ml); gen_db_actions.ml: Db_filter.expr_of_string, then get_refs_where.
                return call => Locked(call, () =>
                {
                    var filter = DbFilter.Parse(call.String(1));
                    return new JsonArray(call.Db.All(cls.Name).Where(filter.Matches).Select(o => (JsonNode?)o.Ref).ToArray());
                });
            case "get_all_records_where":
                return call => Locked(call, () =>
                {
                    var filter = DbFilter.Parse(call.String(1));
                    var records = new JsonObject();
                    foreach (var obj in call.Db.All(cls.Name).Where(filter.Matches)) records[obj.Ref] = obj.Snapshot();
                    return records;
                });
            case "get_record":
                return call => Locked(call, () => call.Db.Require(cls.Name, call.Ref(1)).Snapshot());
            case "get_by_uuid":
                return call => Locked(call, () =>
                    call.Db.FindByUuid(cls.Name, call.String(1))?.Ref
                    ?? throw new XapiException(XapiErrors.UuidInvalid, cls.Name, call.String(1)));
            case "get_by_name_label":
                return call => Locked(call, () => new JsonArray(call.Db.All(cls.Name)
                    .Where(o => o.GetString("name_label") == call.String(1)).Select(o => (JsonNode?)o.Ref).ToArray()));
            case "create":
                return call => Locked(call, () => Create(call, cls).Ref);
            case "destroy":
                return call => Locked(call, () =>
                {
                    call.Db.Destroy(call.Db.Require(cls.Name, call.Ref(1)));
                    return null;
                });
        }

        return FieldAccessor(name, "get_", cls) is { } getField
            ? call => Locked(call, () => call.Db.Require(cls.Name, call.Ref(1)).Get(getField.Name)?.DeepClone())
            : FieldAccessor(name, "set_", cls) is { } setField
            ? call => Locked(call, () =>
            {
                var obj = call.Db.Require(cls.Name, call.Ref(1));
                obj.Set(setField.Name, Coerce(call, setField.Type, call.Arg(2), "value"));
                return null;
            })
            : FieldAccessor(name, "add_to_", cls) is { Type.Kind: XapiTypeKind.Map } addToMap
            ? call => Locked(call, () =>
            {
                var obj = call.Db.Require(cls.Name, call.Ref(1));
                var key = call.String(2);
                if (obj.Get(addToMap.Name)!.AsObject().ContainsKey(key))
                    throw new XapiException(XapiErrors.MapDuplicateKey, cls.Name, addToMap.Name, obj.Ref, key);
                obj.SetMapEntry(addToMap.Name, key, call.String(3));
                return null;
            })
            : FieldAccessor(name, "remove_from_", cls) is { Type.Kind: XapiTypeKind.Map } removeFromMap
            ? call => Locked(call, () =>
            {
                call.Db.Require(cls.Name, call.Ref(1)).RemoveMapEntry(removeFromMap.Name, call.String(2));
                return null;
            })
            : FieldAccessor(name, "add_", cls) is { Type.Kind: XapiTypeKind.Set } addToSet
            ? call => Locked(call, () =>
            {
                call.Db.Require(cls.Name, call.Ref(1)).AddToSet(addToSet.Name, call.String(2));
                return null;
            })
            : FieldAccessor(name, "remove_", cls) is { Type.Kind: XapiTypeKind.Set } removeFromSet
            ? call => Locked(call, () =>
            {
                call.Db.Require(cls.Name, call.Ref(1)).RemoveFromSet(removeFromSet.Name, call.String(2));
                return null;
            })
            : null;
    }

    /// <summary>
    /// Builds an object from a constructor record: required fields must be present
    /// (FIELD_TYPE_ERROR otherwise), defaulted ones may be omitted, runtime fields are ignored.
    /// Call under the database lock.
    /// </summary>
    public static XapiObject Create(XapiCall call, XapiClass cls, Action<Dictionary<string, JsonNode?>>? adjust = null)
    {
        var values = ConstructorValues(call, cls, call.Object(1));
        adjust?.Invoke(values);
        return call.Db.Create(cls.Name, values);
    }

    public static Dictionary<string, JsonNode?> ConstructorValues(XapiCall call, XapiClass cls, JsonObject record)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in cls.Fields.Where(f => f.IsConstructorArgument))
        {
            if (!record.TryGetPropertyValue(field.Name, out var value))
            {
                if (field.IsRequiredInConstructor) throw new XapiException(XapiErrors.FieldTypeError, field.Name);
                continue;
            }

            values[field.Name] = Coerce(call, field.Type, value, field.Name);
        }

        return values;
    }

    public static JsonNode? Coerce(XapiCall call, XapiType type, JsonNode? value, string name) =>
        type.Coerce(value, call.Host.Model, out var coerced) ? coerced : throw new XapiException(XapiErrors.FieldTypeError, name);

    private static XapiField? FieldAccessor(string messageName, string prefix, XapiClass cls) =>
        messageName.StartsWith(prefix, StringComparison.Ordinal) && cls.FieldsByName.TryGetValue(messageName[prefix.Length..], out var field)
            ? field
            : null;

    private static ValueTask<JsonNode?> Locked(XapiCall call, Func<JsonNode?> body)
    {
        lock (call.Db.Sync) return ValueTask.FromResult(body());
    }
}
