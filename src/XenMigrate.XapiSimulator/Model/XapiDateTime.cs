using System.Globalization;

namespace XenMigrate.XapiSimulator.Model;

/// <summary>Datetimes as xapi writes them over JSON-RPC (UTC, <c>yyyyMMddTHH:mm:ssZ</c>).</summary>
public static class XapiDateTime
{
    public const string Epoch = "19700101T00:00:00Z";

    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyyMMdd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);

    public static string Now(TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        return Format(clock.GetUtcNow());
    }
}
