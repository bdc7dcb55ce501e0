using System.Globalization;
using System.Text.RegularExpressions;

namespace XenMigrate.Api.Nova.Microversions;

/// <summary>A compute API microversion, e.g. 2.47.</summary>
public readonly partial record struct ApiVersion(int Major, int Minor) : IComparable<ApiVersion>
{
    public static readonly ApiVersion Min = new(2, 1);

    /// <summary>
    /// The highest microversion whose response bodies the gateway implements for every route it
    /// serves. Raise it only together with the bodies (and the contract tests) of the new version.
    /// </summary>
    public static readonly ApiVersion Max = new(2, 100);

    public static bool TryParse(string text, out ApiVersion version)
    {
        var match = Format().Match(text);
        version = match.Success ? new ApiVersion(Number(match.Groups[1].Value), Number(match.Groups[2].Value)) : default;
        return match.Success;
    }

    /// <summary>Well-formed but huge numbers are merely unsupported (406), as in Nova: saturate instead of failing.</summary>
    private static int Number(string digits) =>
        int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;

    public int CompareTo(ApiVersion other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    public static bool operator <(ApiVersion a, ApiVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(ApiVersion a, ApiVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(ApiVersion a, ApiVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ApiVersion a, ApiVersion b) => a.CompareTo(b) >= 0;

    /// <summary>True when this request's version is at least <paramref name="minor"/> of 2.x.</summary>
    public bool AtLeast(int minor) => this >= new ApiVersion(2, minor);

    public override string ToString() => $"{Major}.{Minor}";

    // microversion-parse's rule: no leading zeros, a minor of 0 allowed.
    [GeneratedRegex(@"^([1-9][0-9]*)\.([1-9][0-9]*|0)$", RegexOptions.CultureInvariant)]
    private static partial Regex Format();
}
