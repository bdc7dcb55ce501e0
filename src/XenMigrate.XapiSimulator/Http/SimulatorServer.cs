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
/// The host's web server: Kestrel on 127.0.0.1, serving <c>/jsonrpc</c>, <c>/export_raw_vdi</c>,
/// <c>/import_raw_vdi</c> and <c>/sim/</c>. While the host is "down" every connection is dropped
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
            kestrel.Listen(address, port, listen => listen.Use(gate.Wrap));
        });
        var app = builder.Build();
        app.Run(context => RouteAsync(context, host, control));
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

    private static Task RouteAsync(HttpContext context, HostRuntime host, SimulatorControl control)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        var method = context.Request.Method;
        return path switch
        {
            "/jsonrpc" when HttpMethods.IsPost(method) => JsonRpcEndpoint.HandleAsync(context, host),
            "/jsonrpc" when HttpMethods.IsOptions(method) => CorsAsync(context),
            "/export_raw_vdi" when HttpMethods.IsGet(method) => ExportRawVdiEndpoint.HandleAsync(context, host),
            "/import_raw_vdi" when HttpMethods.IsPut(method) => ImportRawVdiEndpoint.HandleAsync(context, host),
            "/services/xenops/import" when HttpMethods.IsPost(method) => Migration.XenopsReceiveEndpoint.ImportAsync(context, host),
            "/services/xenops/receive" when HttpMethods.IsPost(method) => Migration.XenopsReceiveEndpoint.ReceiveAsync(context, host),
            _ when path.StartsWith("/sim/", StringComparison.Ordinal) => SimControlEndpoints.HandleAsync(context, control),
            _ => HttpTransfer.ErrorAsync(context, StatusCodes.Status404NotFound, $"No handler for {method} {path}."),
        };
    }

    private static Task CorsAsync(HttpContext context)
    {
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowMethods = "POST, OPTIONS";
        context.Response.Headers.AccessControlAllowHeaders = "content-type";
        context.Response.StatusCode = StatusCodes.Status200OK;
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
