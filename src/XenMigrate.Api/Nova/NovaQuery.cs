using System.Globalization;
using Microsoft.Extensions.Primitives;
using XenMigrate.Api.Nova.Faults;

namespace XenMigrate.Api.Nova;

/// <summary>Query-string rules shared by Nova's collection routes (paging, booleans, integers).</summary>
public static partial class NovaQuery
{
    /// <summary>Nova's <c>osapi_max_limit</c>: no page is longer.</summary>
    public const int MaxLimit = 1000;

    public static int Limit(IQueryCollection query)
    {
        if (!query.TryGetValue("limit", out var raw)) return MaxLimit;
        if (!int.TryParse(raw.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var limit))
            throw NovaFaultException.BadRequest("limit param must be an integer");
        if (limit < 0) throw NovaFaultException.BadRequest("limit param must be positive");
        return Math.Min(limit, MaxLimit);
    }

    public static string? Marker(IQueryCollection query) =>
        query.TryGetValue("marker", out var m) && !StringValues.IsNullOrEmpty(m) ? m.ToString() : null;

    /// <summary>
    /// oslo's strict bool_from_string, plus the empty string meaning true (Nova's all_tenants): Nova
    /// reads query strings this way, while request bodies take parameter_types.boolean
    /// (<see cref="NovaParameterTypes.IsBoolean"/>), which refuses 't', 'y' and the like.
    /// </summary>
    public static bool? Bool(string value) => value.Trim().ToLowerInvariant() switch
    {
        "" or "1" or "t" or "true" or "on" or "y" or "yes" => true,
        "0" or "f" or "false" or "off" or "n" or "no" => false,
        _ => null,
    };

    /// <summary>An ISO 8601 date-time query parameter (changes-since and kin); 400 in Nova's words when it is not one.</summary>
    public static DateTime? Timestamp(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var raw) || raw.ToString().Length == 0) return null;
        var text = raw.ToString();
        return IsoTimestamp().IsMatch(text) && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t.UtcDateTime
            : throw NovaFaultException.BadRequest(NovaMessages.InvalidQuery(name, text, $"'{text}' is not a 'date-time'"));
    }

    /// <summary>What oslo's parse_isotime (iso8601) takes: a date, optionally a time, optionally a zone; "2011/01/01" is not one.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")]
    private static partial System.Text.RegularExpressions.Regex IsoTimestamp();

    /// <summary>Refuses query parameters a strict (additionalProperties: false) query schema does not list.</summary>
    public static void RejectUnknown(IQueryCollection query, IReadOnlySet<string> allowed)
    {
        foreach (var (key, value) in query)
        {
            if (!allowed.Contains(key))
                throw NovaFaultException.BadRequest(NovaMessages.InvalidQuery(key, value.ToString(),
                    $"Additional properties are not allowed ('{key}' was unexpected)"));
        }
    }

    /// <summary>Takes one page after <paramref name="marker"/>; 400 when the marker is not in the list.</summary>
    public static List<T> Page<T>(IReadOnlyList<T> ordered, Func<T, string> key, string? marker, int limit)
    {
        var start = 0;
        if (marker is not null)
        {
            var index = ordered.Select(key).ToList().IndexOf(marker);
            if (index < 0) throw NovaFaultException.BadRequest(NovaMessages.MarkerNotFound(marker));
            start = index + 1;
        }

        return ordered.Skip(start).Take(limit).ToList();
    }

    /// <summary>The request's query with limit and marker replaced: the next page's query.</summary>
    public static IEnumerable<KeyValuePair<string, string>> NextQuery(IQueryCollection query, int limit, string marker) =>
        query.Where(p => p.Key is not ("limit" or "marker"))
            .SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string>(p.Key, v ?? string.Empty)))
            .Append(new("limit", limit.ToString(CultureInfo.InvariantCulture)))
            .Append(new("marker", marker));
}
