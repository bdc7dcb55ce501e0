using System.Text.Json.Nodes;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>
/// The host's object database. Every change bumps a generation counter: <c>event.from</c> reports
/// objects created / modified / deleted after the caller's token, as xapi does from its own
/// database. One lock (<see cref="Sync"/>) guards the whole model; the public readers take it.
/// </summary>
public sealed class XapiDatabase
{
    private const int MaxTombstones = 10_000;

    private readonly Dictionary<string, XapiObject> _byRef = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, XapiObject>> _byClass = new(StringComparer.Ordinal);
    private readonly Dictionary<string, XapiObject> _byUuid = new(StringComparer.OrdinalIgnoreCase);
    private readonly LinkedList<Tombstone> _tombstones = new();
    private TaskCompletionSource _changed = NewSignal();

    internal XapiDatabase(XapiDataModel model, TimeProvider clock)
    {
        Model = model;
        Clock = clock;
    }

    internal TimeProvider Clock { get; }

    public XapiDataModel Model { get; }

    internal Lock Sync { get; } = new();

    /// <summary>The generation of the last change (what an <c>event.from</c> token encodes).</summary>
    public long Generation
    {
        get
        {
            lock (Sync) return CurrentGeneration;
        }
    }

    internal long CurrentGeneration { get; private set; }

    /// <summary>The oldest generation whose deletions are still remembered.</summary>
    internal long OldestRememberedDeletion { get; private set; }

    internal IEnumerable<Tombstone> Tombstones => _tombstones;

    public IReadOnlyList<string> GetAll(string className)
    {
        lock (Sync) return All(className).Select(o => o.Ref).ToList();
    }

    public JsonObject? GetRecord(string opaqueRef)
    {
        lock (Sync) return Find(opaqueRef)?.Snapshot();
    }

    public string? ClassOf(string opaqueRef)
    {
        lock (Sync) return Find(opaqueRef)?.ClassName;
    }

    public string? FindRefByUuid(string uuid)
    {
        lock (Sync) return _byUuid.GetValueOrDefault(uuid)?.Ref;
    }

    public IReadOnlyList<string> FindByNameLabel(string className, string nameLabel)
    {
        lock (Sync)
        {
            return All(className)
                .Where(o => o.Class.FieldsByName.ContainsKey("name_label") && o.GetString("name_label") == nameLabel)
                .Select(o => o.Ref).ToList();
        }
    }

    internal static string NewRef() => "OpaqueRef:" + Guid.NewGuid().ToString("D");

    internal XapiObject Create(string className, IEnumerable<KeyValuePair<string, JsonNode?>>? values = null)
    {
        var cls = Model.GetClass(className);
        var fields = new JsonObject();
        foreach (var field in cls.Fields) fields[field.Name] = Model.DefaultValue(field);
        if (values is not null)
        {
            foreach (var (name, value) in values)
            {
                if (!cls.FieldsByName.ContainsKey(name)) throw new InvalidOperationException($"{className} has no field '{name}'.");
                fields[name] = value;
            }
        }

        if (cls.FieldsByName.ContainsKey("uuid") && string.IsNullOrEmpty((string?)fields["uuid"]))
            fields["uuid"] = Guid.NewGuid().ToString("D");

        var obj = new XapiObject(this, cls, NewRef(), fields);
        _byRef[obj.Ref] = obj;
        ClassTable(className)[obj.Ref] = obj;
        if (obj.Uuid.Length > 0) _byUuid[obj.Uuid] = obj;
        obj.CreatedGeneration = obj.ModifiedGeneration = NextGeneration();
        obj.ModifiedAt = Clock.GetUtcNow();
        return obj;
    }

    internal void Destroy(XapiObject obj)
    {
        if (!_byRef.Remove(obj.Ref)) return;
        ClassTable(obj.ClassName).Remove(obj.Ref);
        _byUuid.Remove(obj.Uuid);
        _tombstones.AddLast(new Tombstone(obj.Class, obj.Ref, obj.Uuid, NextGeneration(), Clock.GetUtcNow()));
        while (_tombstones.Count > MaxTombstones)
        {
            OldestRememberedDeletion = _tombstones.First!.Value.Generation;
            _tombstones.RemoveFirst();
        }
    }

    internal void Touch(XapiObject obj)
    {
        if (!_byRef.ContainsKey(obj.Ref)) return;
        obj.ModifiedGeneration = NextGeneration();
        obj.ModifiedAt = Clock.GetUtcNow();
    }

    internal XapiObject? Find(string opaqueRef) => _byRef.GetValueOrDefault(opaqueRef);

    internal XapiObject? Find(string className, string opaqueRef) =>
        _byRef.TryGetValue(opaqueRef, out var obj) && obj.ClassName == className ? obj : null;

    /// <summary>The object, or HANDLE_INVALID [class, ref] as xapi answers for a stale or foreign ref.</summary>
    internal XapiObject Require(string className, string opaqueRef) =>
        Find(className, opaqueRef) ?? throw new XapiException(XapiErrors.HandleInvalid, className, opaqueRef);

    internal XapiObject? FindByUuid(string className, string uuid) =>
        _byUuid.TryGetValue(uuid, out var obj) && obj.ClassName == className ? obj : null;

    internal IEnumerable<XapiObject> All(string className) =>
        _byClass.TryGetValue(className, out var table) ? table.Values : [];

    internal IEnumerable<XapiObject> AllObjects => _byRef.Values;

    internal int Count(string className) => _byClass.TryGetValue(className, out var table) ? table.Count : 0;

    /// <summary>Completes at the next change after <paramref name="generation"/> (or at once if there was one).</summary>
    internal Task ChangedSince(long generation)
    {
        lock (Sync) return CurrentGeneration > generation ? Task.CompletedTask : _changed.Task;
    }

    private long NextGeneration()
    {
        CurrentGeneration++;
        var signal = _changed;
        _changed = NewSignal();
        signal.TrySetResult();
        return CurrentGeneration;
    }

    private Dictionary<string, XapiObject> ClassTable(string className)
    {
        if (!_byClass.TryGetValue(className, out var table))
        {
            table = new Dictionary<string, XapiObject>(StringComparer.Ordinal);
            _byClass[className] = table;
        }

        return table;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed record Tombstone(XapiClass Class, string Ref, string Uuid, long Generation, DateTimeOffset DeletedAt);
}
