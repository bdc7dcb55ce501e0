using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// The host's web server: Kestrel on 127.0.0.1, serving xapi's handlers (JSON-RPC, XML-RPC,
/// <c>/export_raw_vdi</c>, <c>/import_raw_vdi</c>, matched as xapi matches them) and <c>/sim/</c>. While the host is "down" every connection is dropped
/// as soon as it is accepted, and the open ones are cut.
/// </summary>
internal sealed class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConnectionGate _gate;

    private SimulatorServer(WebApplication app, ConnectionGate gate, int port)
    {
        _app = app;
        _gate = gate;
        Port = port;
    }

    public int Port { get; }

    public static async Task<SimulatorServer> StartAsync(HostRuntime host, SimulatorControl control, IPAddress address, int port,
        CancellationToken cancellationToken)
    {
        var options = host.Options;
        var gate = new ConnectionGate(host.Faults);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SimulatorServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.AddLogging(logging =>
        {
            logging.ClearProviders();
            options.ConfigureLogging?.Invoke(logging);
        });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(address, port, listen =>
            {
                listen.Use(gate.Wrap);
                listen.Use(CloseDelimitedResponses.Wrap);
            });
        });
        var app = builder.Build();
        var handlers = Handlers(host);
        app.Run(context => RouteAsync(context, handlers, control));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            gate.Dispose();
            await app.DisposeAsync();
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SimulatorServer(app, gate, new Uri(bound).Port);
    }

    /// <summary>
    /// The handlers and the paths they are registered at, as xapi.ml ~868 lists them (post_root,
    /// post_RPC2, post_json: XML-RPC; post_jsonrpc; the OPTIONS preflights; get_export_raw_vdi;
    /// put_import_raw_vdi; the xenops services a migration uses), matched by longest prefix.
    /// </summary>
    private static HandlerTable Handlers(HostRuntime host) => new HandlerTable()
        .Add("POST", "/", context => XmlRpcEndpoint.HandleAsync(context, host))
        .Add("POST", "/RPC2", context => XmlRpcEndpoint.HandleAsync(context, host))
        .Add("POST", "/json", context => XmlRpcEndpoint.HandleAsync(context, host))
        .Add("POST", "/jsonrpc", context => JsonRpcEndpoint.HandleAsync(context, host))
        .Add("POST", "/services/xenops/import", context => Migration.XenopsReceiveEndpoint.ImportAsync(context, host))
        .Add("POST", "/services/xenops/receive", context => Migration.XenopsReceiveEndpoint.ReceiveAsync(context, host))
        .Add("OPTIONS", "/", OptionsAsync)
        .Add("OPTIONS", "/json", OptionsAsync)
        .Add("OPTIONS", "/jsonrpc", OptionsAsync)
        .Add("GET", "/export_raw_vdi", context => ExportRawVdiEndpoint.HandleAsync(context, host))
        .Add("PUT", "/import_raw_vdi", context => ImportRawVdiEndpoint.HandleAsync(context, host));

    /// <summary>The simulator's own <c>/sim/</c> routes come first (any method); then xapi's table.</summary>
    private static Task RouteAsync(HttpContext context, HandlerTable handlers, SimulatorControl control)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        return path.StartsWith("/sim/", StringComparison.Ordinal)
            ? SimControlEndpoints.HandleAsync(context, control)
            : handlers.HandleAsync(context);
    }

    /// <summary>http_svr.ml respond_to_options: CORS preflight answers, no body.</summary>
    private static Task OptionsAsync(HttpContext context)
    {
        var requested = context.Request.Headers.AccessControlRequestHeaders.ToString();
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowHeaders = requested.Length > 0 ? $"{requested}, X-Requested-With" : "X-Requested-With";
        context.Response.Headers.AccessControlAllowMethods = "PUT";
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _gate.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Connections that would not finish in time are dropped.
        }

        await _app.DisposeAsync();
    }

    /// <summary>Kestrel connection middleware that takes the host off the network on demand.</summary>
    private sealed class ConnectionGate : IDisposable
    {
        private readonly FaultInjector _faults;
        private readonly ConcurrentDictionary<string, ConnectionContext> _open = new(StringComparer.Ordinal);

        public ConnectionGate(FaultInjector faults)
        {
            _faults = faults;
            _faults.HostDownChanged += OnHostDownChanged;
        }

        public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
        {
            if (_faults.IsHostDown)
            {
                connection.Abort(new ConnectionAbortedException("Simulated host is down."));
                return;
            }

            _open[connection.ConnectionId] = connection;
            try
            {
                await next(connection);
            }
            finally
            {
                _open.TryRemove(connection.ConnectionId, out _);
            }
        };

        public void Dispose() => _faults.HostDownChanged -= OnHostDownChanged;

        private void OnHostDownChanged(object? sender, bool down)
        {
            if (!down) return;
            foreach (var connection in _open.Values) connection.Abort(new ConnectionAbortedException("Simulated host went down."));
        }
    }
}
