using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// The event calls of xapi_event.ml. <c>event.from(classes, token, timeout)</c>: the objects of the
/// subscribed classes created, modified or deleted since the token (one event per object, with
/// its current record), waiting up to <c>timeout</c> seconds for the first one; token "" returns
/// every object as "add". <c>event.inject(class, ref)</c> marks an object changed and returns a
/// token the next event.from sees it after. The deprecated <c>event.register / next /
/// unregister</c> deliver the same changes to a session's subscription.
/// </summary>
internal static class EventHandlers
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    /// <summary>Each pool database's event.next subscriptions, by session (xapi_event.ml Next.subscriptions).</summary>
    private static readonly ConditionalWeakTable<XapiDatabase, Dictionary<string, NextSubscription>> Registrations = new();

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("event.from", From);
        registry.Add("event.get_current_id", call =>
        {
            lock (call.Db.Sync) return ValueTask.FromResult<JsonNode?>(call.Db.CurrentGeneration);
        });
        registry.Add("event.inject", Inject);
        registry.Add("event.register", call => Subscribe(call, add: true));
        registry.Add("event.unregister", call => Subscribe(call, add: false));
        registry.Add("event.next", Next);
    }

    /// <summary>
    /// xapi_event.ml ~779 inject: HANDLE_INVALID [class, ref] unless ref is a row of table class
    /// (the class name as the database spells it: "VM", "pool"); the row is touched, consuming
    /// generation g, and the token (g - 1, 0) is returned, so event.from from it reports the object.
    /// </summary>
    private static ValueTask<JsonNode?> Inject(XapiCall call)
    {
        var className = call.String(1);
        var objectRef = call.String(2);
        lock (call.Db.Sync)
        {
            if (call.Db.Find(objectRef) is not { } obj || obj.ClassName != className)
                throw new XapiException(XapiErrors.HandleInvalid, className, objectRef);
            var before = call.Db.CurrentGeneration;
            call.Db.Touch(obj);
            return ValueTask.FromResult<JsonNode?>(Token(before));
        }
    }

    /// <summary>xapi_event.ml register / unregister: a session's subscription grows or loses entries.</summary>
    private static ValueTask<JsonNode?> Subscribe(XapiCall call, bool add)
    {
        var entries = call.Strings(1);
        lock (call.Db.Sync)
        {
            var subscription = Subscriptions(call.Db).TryGetValue(call.Session!, out var existing)
                ? existing
                : Subscriptions(call.Db)[call.Session!] = new NextSubscription(call.Db.CurrentGeneration);
            if (add) subscription.Entries.InsertRange(0, entries);
            else subscription.Entries.RemoveAll(e => entries.Contains(e, StringComparer.Ordinal));
        }

        return ValueTask.FromResult<JsonNode?>(null);
    }

    /// <summary>
    /// xapi_event.ml next: SESSION_NOT_REGISTERED [trackid] without a registration; otherwise blocks
    /// until something the subscription selects changed since the last call, and returns those
    /// events (SESSION_INVALID if the session goes meanwhile).
    /// </summary>
    private static async ValueTask<JsonNode?> Next(XapiCall call)
    {
        var session = call.Session!;
        while (true)
        {
            long generation;
            lock (call.Db.Sync)
            {
                if (!Subscriptions(call.Db).TryGetValue(session, out var subscription))
                    throw new XapiException(XapiErrors.SessionNotRegistered, TrackId(session));
                if (call.Db.Find("session", session) is null) throw new XapiException(XapiErrors.SessionInvalid, session);
                generation = call.Db.CurrentGeneration;
                if (generation > subscription.Last)
                {
                    if (subscription.Last < call.Db.OldestRememberedDeletion) throw new XapiException(XapiErrors.EventsLost);
                    var events = Collect(call, Subscription.Parse(call.Db.Model, subscription.Entries), subscription.Last, legacy: true);
                    subscription.Last = generation;
                    if (events.Count > 0) return new JsonArray(events.Select(e => (JsonNode?)e.Event).ToArray());
                }
            }

            await call.Db.ChangedSince(generation).WaitAsync(call.Cancellation);
        }
    }

    /// <summary>Context.trackid_of_session: "trackid=" and the MD5 of the session ref, in hex.</summary>
#pragma warning disable CA5351 // Not security: xapi names a session in errors by the MD5 of its ref.
    private static string TrackId(string session) =>
        "trackid=" + Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(session)));
#pragma warning restore CA5351

    private static Dictionary<string, NextSubscription> Subscriptions(XapiDatabase db) =>
        Registrations.GetValue(db, _ => new Dictionary<string, NextSubscription>(StringComparer.Ordinal));

    /// <summary>xapi's token: the last database generation, then the message generation.</summary>
    public static string Token(long generation) =>
        string.Create(CultureInfo.InvariantCulture, $"{generation:D20},{0:D20}");

    private static async ValueTask<JsonNode?> From(XapiCall call)
    {
        var subscription = Subscription.Parse(call.Db.Model, call.Strings(1));
        var since = ParseToken(call.String(2));
        var timeout = TimeSpan.FromSeconds(Math.Clamp(call.Double(3), 0, MaxTimeout.TotalSeconds));
        var deadline = call.Host.Clock.GetUtcNow() + timeout;
        while (true)
        {
            long generation;
            lock (call.Db.Sync)
            {
                if (since > 0 && since < call.Db.OldestRememberedDeletion) throw new XapiException(XapiErrors.EventsLost);
                generation = call.Db.CurrentGeneration;
                var events = Collect(call, subscription, since, legacy: false);
                var remaining = deadline - call.Host.Clock.GetUtcNow();
                if (events.Count > 0 || remaining <= TimeSpan.Zero) return Batch(call, events, generation);
            }

            var wait = deadline - call.Host.Clock.GetUtcNow();
            if (wait <= TimeSpan.Zero) continue;
            try
            {
                await call.Db.ChangedSince(generation).WaitAsync(wait, call.Host.Clock, call.Cancellation);
            }
            catch (TimeoutException)
            {
                // Answer with what there is (possibly nothing) and the current token.
            }

            // Changes to classes nobody subscribed to also wake us: look again.
        }
    }

    private static long ParseToken(string token)
    {
        if (token.Length == 0) return 0;
        var first = token.Split(',')[0];
        return long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            ? generation
            : throw new XapiException(XapiErrors.EventFromTokenParseFailure, token);
    }

    private static List<(long Id, JsonObject Event)> Collect(XapiCall call, Subscription subscription, long since, bool legacy)
    {
        var events = new List<(long, JsonObject)>();
        foreach (var obj in call.Db.AllObjects)
        {
            if (obj.ModifiedGeneration <= since || !subscription.Includes(obj.Class, obj.Ref)) continue;
            var operation = obj.CreatedGeneration > since ? "add" : "mod";
            events.Add((obj.ModifiedGeneration, Event(obj.ModifiedGeneration, legacy ? obj.ModifiedAt : null, obj.Class, operation, obj.Ref, obj.Snapshot())));
        }

        foreach (var gone in call.Db.Tombstones)
        {
            if (gone.Generation <= since || !subscription.Includes(gone.Class, gone.Ref)) continue;
            events.Add((gone.Generation, Event(gone.Generation, legacy ? gone.DeletedAt : null, gone.Class, "del", gone.Ref, snapshot: null)));
        }

        events.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return events;
    }

    /// <summary>
    /// An event as event_types.ml rpc_of_event writes it: id (a string), timestamp, class (lower
    /// case), operation, ref, and the record as snapshot (none for "del"). event.from's events
    /// carry the generation as id and "0.0" as timestamp (xapi_event.ml from_inner event_of);
    /// event.next's have the time of the change (string_of_float (Unix.time ())).
    /// </summary>
    private static JsonObject Event(long id, DateTimeOffset? time, XapiClass cls, string operation, string opaqueRef, JsonObject? snapshot)
    {
        var e = new JsonObject
        {
            ["id"] = id.ToString(CultureInfo.InvariantCulture),
            ["timestamp"] = time is { } t ? t.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + "." : "0.0",
            ["class"] = cls.EventName,
            ["operation"] = operation,
            ["ref"] = opaqueRef,
        };
        if (snapshot is not null) e["snapshot"] = snapshot;
        return e;
    }

    /// <summary>
    /// The batch: events, valid_ref_counts (every table of the database, lower case, with its row
    /// count, whatever the subscription: xapi_event.ml from_inner folds over the whole tableset) and the token.
    /// </summary>
    private static JsonObject Batch(XapiCall call, List<(long Id, JsonObject Event)> events, long generation)
    {
        var counts = new JsonObject();
        foreach (var cls in call.Db.Model.Classes.Where(IsTable)) counts[cls.EventName] = call.Db.Count(cls.Name);
        return new JsonObject
        {
            ["events"] = new JsonArray(events.Select(e => (JsonNode?)e.Event).ToArray()),
            ["valid_ref_counts"] = counts,
            ["token"] = Token(generation),
        };
    }

    /// <summary>The classes xapi keeps in its database: those with get_all_records, and sessions.</summary>
    private static bool IsTable(XapiClass cls) => cls.Name == "session" || cls.Messages.ContainsKey("get_all_records");

    private sealed class NextSubscription(long last)
    {
        public List<string> Entries { get; } = [];

        public long Last { get; set; } = last;
    }

    /// <summary>Classes ("vm", "task", "*") and single objects ("vm/OpaqueRef:…") a caller listens to.</summary>
    private sealed class Subscription
    {
        private readonly HashSet<string> _classes = new(StringComparer.Ordinal);
        private readonly HashSet<string> _objects = new(StringComparer.Ordinal);

        public bool All { get; private set; }

        public static Subscription Parse(XapiDataModel model, IReadOnlyList<string> entries)
        {
            var subscription = new Subscription();
            foreach (var entry in entries)
            {
                if (entry == "*")
                {
                    subscription.All = true;
                    continue;
                }

                var slash = entry.IndexOf('/', StringComparison.Ordinal);
                var className = slash < 0 ? entry : entry[..slash];
                if (model.FindClassByEventName(className) is not { } cls) continue;
                if (slash < 0) subscription._classes.Add(cls.Name);
                else subscription._objects.Add(entry[(slash + 1)..]);
            }

            return subscription;
        }

        public bool IncludesClass(XapiClass cls) => All || _classes.Contains(cls.Name);

        public bool Includes(XapiClass cls, string opaqueRef) => IncludesClass(cls) || _objects.Contains(opaqueRef);
    }
}
