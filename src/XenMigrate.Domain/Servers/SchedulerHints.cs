namespace XenMigrate.Domain.Servers;

/// <summary>
/// The scheduler hints a server was booted with (Nova's <c>os:scheduler_hints</c>, kept in its
/// RequestSpec): each hint's values as strings, as Nova stores them and shows them from 2.100.
/// Every later placement of the server — resize, migration, live migration, a host drain — honours
/// the ones XenMigrate's scheduler knows: <c>group</c>, <c>same_host</c> and <c>different_host</c>.
/// Others are kept and shown, as Nova keeps hints for filters it does not run.
/// </summary>
public sealed record SchedulerHints(IReadOnlyDictionary<string, IReadOnlyList<string>> Values)
{
    public const string Group = "group";
    public const string SameHost = "same_host";
    public const string DifferentHost = "different_host";

    /// <summary>The server group the server was booted into, when it asked for one.</summary>
    public Guid? GroupId() => Values.TryGetValue(Group, out var v) && v.Count > 0 && Guid.TryParse(v[0], out var id) ? id : null;

    /// <summary>Servers whose host this one must share (Nova's SameHostFilter).</summary>
    public IReadOnlyList<Guid> SameHostAs() => Servers(SameHost);

    /// <summary>Servers whose hosts this one must avoid (Nova's DifferentHostFilter).</summary>
    public IReadOnlyList<Guid> DifferentHostFrom() => Servers(DifferentHost);

    private List<Guid> Servers(string key) =>
        Values.TryGetValue(key, out var v) ? v.Select(s => Guid.TryParse(s, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList() : [];
}
