using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// <c>event.from(classes, token, timeout)</c>: the objects of the subscribed classes created,
/// modified or deleted since the token (one event per object, with its current record), waiting
/// up to <c>timeout</c> seconds for the first one. Token "" returns every object as "add".
/// </summary>
internal static class EventHandlers
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("event.from", From);
        registry.Add("event.get_current_id", call =>
        {
            lock (call.Db.Sync) return ValueTask.FromResult<JsonNode?>(call.Db.CurrentGeneration);
        });
    }

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
                var events = Collect(call, subscription, since);
                var remaining = deadline - call.Host.Clock.GetUtcNow();
                if (events.Count > 0 || remaining <= TimeSpan.Zero) return Batch(call, subscription, events, generation);
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

    private static List<(long Id, JsonObject Event)> Collect(XapiCall call, Subscription subscription, long since)
    {
        var events = new List<(long, JsonObject)>();
        foreach (var obj in call.Db.AllObjects)
        {
            if (obj.ModifiedGeneration <= since || !subscription.Includes(obj.Class, obj.Ref)) continue;
            var operation = obj.CreatedGeneration > since ? "add" : "mod";
            events.Add((obj.ModifiedGeneration, Event(obj.ModifiedGeneration, obj.ModifiedAt, obj.Class, operation, obj.Ref, obj.Uuid, obj.Snapshot())));
        }

        foreach (var gone in call.Db.Tombstones)
        {
            if (gone.Generation <= since || !subscription.Includes(gone.Class, gone.Ref)) continue;
            events.Add((gone.Generation, Event(gone.Generation, gone.DeletedAt, gone.Class, "del", gone.Ref, gone.Uuid, snapshot: null)));
        }

        events.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return events;
    }

    private static JsonObject Event(long id, DateTimeOffset time, XapiClass cls, string operation, string opaqueRef, string uuid, JsonObject? snapshot)
    {
        var e = new JsonObject
        {
            ["id"] = id,
            ["timestamp"] = XapiDateTime.Format(time),
            ["class"] = cls.EventName,
            ["operation"] = operation,
            ["ref"] = opaqueRef,
            ["obj_uuid"] = uuid,
        };
        if (snapshot is not null) e["snapshot"] = snapshot;
        return e;
    }

    private static JsonObject Batch(XapiCall call, Subscription subscription, List<(long Id, JsonObject Event)> events, long generation)
    {
        var counts = new JsonObject();
        foreach (var cls in call.Db.Model.Classes.Where(subscription.IncludesClass))
        {
            var count = call.Db.Count(cls.Name);
            if (count > 0 || !subscription.All) counts[cls.EventName] = count;
        }

        return new JsonObject
        {
            ["events"] = new JsonArray(events.Select(e => (JsonNode?)e.Event).ToArray()),
            ["valid_ref_counts"] = counts,
            ["token"] = Token(generation),
        };
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
