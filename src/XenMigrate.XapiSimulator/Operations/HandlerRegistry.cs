using System.Collections.Concurrent;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// Which code serves which XAPI message: the calls with behaviour of their own (VM power
/// operations, storage, sessions, tasks, events…) and, for the rest, the generic field accessors.
/// Messages of the data model that neither covers answer NOT_IMPLEMENTED.
/// </summary>
internal sealed class HandlerRegistry
{
    private static readonly Lazy<HandlerRegistry> Shared = new(() => new HandlerRegistry(XapiDataModel.Instance));

    private readonly Dictionary<string, XapiHandler> _explicit = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, XapiHandler?> _resolved = new(StringComparer.Ordinal);
    private readonly XapiDataModel _model;

    private HandlerRegistry(XapiDataModel model)
    {
        _model = model;
        SessionHandlers.Register(this);
        TaskHandlers.Register(this);
        EventHandlers.Register(this);
        HostHandlers.Register(this);
        PoolHandlers.Register(this);
        VmHandlers.Register(this);
        VmMemoryHandlers.Register(this);
        VdiHandlers.Register(this);
        CbtHandlers.Register(this);
        NbdHandlers.Register(this);
        DeviceHandlers.Register(this);
        VtpmHandlers.Register(this);
        Migration.MigrationHandlers.Register(this);
    }

    public static HandlerRegistry Instance => Shared.Value;

    public IEnumerable<string> ExplicitMethods => _explicit.Keys;

    public void Add(string method, XapiHandler handler)
    {
        if (_model.FindMessage(method) is null) throw new InvalidOperationException($"{method} is not in the XAPI data model.");
        _explicit.Add(method, handler);
    }

    public XapiHandler? Resolve(XapiMessage message) =>
        _resolved.GetOrAdd(message.FullName, _ =>
            _explicit.GetValueOrDefault(message.FullName) ?? GenericHandlers.For(message, _model.GetClass(message.ClassName)));
}
