using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Support;

/// <summary>
/// Compares the shape of two JSON documents: the same keys at every level and compatible value
/// kinds. Maps keyed by data (addresses, metadata, extra specs…) are compared as "an object".
/// A null on either side matches any kind (Nova's nullable fields), an empty array matches any array.
/// </summary>
public static class JsonShape
{
    private static readonly HashSet<string> DataKeyedMaps =
        ["addresses", "metadata", "extra_specs", "scheduler_hints", "properties", "fault"];

    public static List<string> Differences(JsonNode? ours, JsonNode? theirs, string path = "$", IReadOnlySet<string>? alternatives = null)
    {
        var diffs = new List<string>();
        Compare(ours, theirs, path, diffs, alternatives ?? new HashSet<string>());
        return diffs;
    }

    private static void Compare(JsonNode? ours, JsonNode? theirs, string path, List<string> diffs, IReadOnlySet<string> alternatives)
    {
        if (ours is null || theirs is null) return;
        var key = path[(path.LastIndexOf('.') + 1)..];
        if (alternatives.Contains(key) && ours.GetValueKind() != theirs.GetValueKind()) return; // documented alternative shape

        switch (theirs)
        {
            case JsonObject t when ours is JsonObject o:
                if (DataKeyedMaps.Contains(key)) return;
                foreach (var missing in t.Select(p => p.Key).Except(o.Select(p => p.Key))) diffs.Add($"{path}.{missing}: missing");
                foreach (var extra in o.Select(p => p.Key).Except(t.Select(p => p.Key))) diffs.Add($"{path}.{extra}: not in Nova's sample");
                foreach (var (k, v) in t)
                    if (o.TryGetPropertyValue(k, out var mine)) Compare(mine, v, $"{path}.{k}", diffs, alternatives);
                return;
            case JsonArray t when ours is JsonArray o:
                if (o.Count > 0 && t.Count > 0) Compare(o[0], t[0], path + "[]", diffs, alternatives);
                return;
            case JsonValue t when ours is JsonValue o:
                var (ko, kt) = (Kind(o.GetValueKind()), Kind(t.GetValueKind()));
                if (ko != kt && ko != JsonValueKind.Null && kt != JsonValueKind.Null) diffs.Add($"{path}: {ko} where Nova has {kt}");
                return;
            default:
                if (ours.GetValueKind() != JsonValueKind.Null && theirs.GetValueKind() != JsonValueKind.Null)
                    diffs.Add($"{path}: {ours.GetValueKind()} where Nova has {theirs.GetValueKind()}");
                return;
        }
    }

    private static JsonValueKind Kind(JsonValueKind k) => k is JsonValueKind.True or JsonValueKind.False ? JsonValueKind.True : k;
}
