namespace XenMigrate.Infrastructure.Xapi;

/// <summary>
/// An error XAPI reported: its code (e.g. <c>VM_BAD_POWER_STATE</c>) and string parameters.
/// Never carries credentials: login parameters are not part of any message.
/// </summary>
public sealed class XapiException(string method, string code, IReadOnlyList<string> parameters)
    : Exception($"{method} failed: {code} [{string.Join(", ", parameters)}]")
{
    public string Method { get; } = method;
    public string Code { get; } = code;
    public IReadOnlyList<string> Parameters { get; } = parameters;

    public const string SessionInvalid = "SESSION_INVALID";
    public const string SessionAuthenticationFailed = "SESSION_AUTHENTICATION_FAILED";
    public const string HandleInvalid = "HANDLE_INVALID";
    public const string OtherOperationInProgress = "OTHER_OPERATION_IN_PROGRESS";
    public const string VmBadPowerState = "VM_BAD_POWER_STATE";
    public const string TaskCancelled = "TASK_CANCELLED";
    public const string HostIsSlave = "HOST_IS_SLAVE";
    public const string VdiInUse = "VDI_IN_USE";
    public const string EventsLost = "EVENTS_LOST";
    public const string UuidInvalid = "UUID_INVALID";
}

/// <summary>The host could not be reached or answered something that is not XAPI.</summary>
public sealed class XapiTransportException(string host, string message, Exception? inner = null)
    : Exception($"XenServer host {host}: {message}", inner)
{
    public string Host { get; } = host;
}
