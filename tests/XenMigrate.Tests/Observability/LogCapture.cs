using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace XenMigrate.Tests.Observability;

/// <summary>An ILoggerProvider that keeps every line with the properties of the scopes it was written in.</summary>
public sealed class LogCapture : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<Line> Lines { get; } = new();

    public sealed record Line(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Scope)
    {
        public string? Property(string name) => Scope.TryGetValue(name, out var v) ? v?.ToString() : null;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            owner._scopes.ForEachScope((s, into) =>
            {
                if (s is IEnumerable<KeyValuePair<string, object?>> properties)
                    foreach (var (key, value) in properties) into[key] = value;
            }, scope);
            owner.Lines.Enqueue(new Line(category, logLevel, formatter(state, exception), scope));
        }
    }
}
