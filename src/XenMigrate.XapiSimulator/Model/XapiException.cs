namespace XenMigrate.XapiSimulator.Model;

/// <summary>An XAPI failure: the error code and its string parameters, exactly as sent on the wire.</summary>
public sealed class XapiException : Exception
{
    public XapiException(string code, params IEnumerable<string> parameters)
        : base(Describe(code, parameters))
    {
        Code = code;
        Parameters = parameters.ToList();
    }

    public string Code { get; }

    public IReadOnlyList<string> Parameters { get; }

    /// <summary>The error as xapi lists it in <c>task.error_info</c> and JSON-RPC v1: code then parameters.</summary>
    public IReadOnlyList<string> ErrorInfo => [Code, .. Parameters];

    private static string Describe(string code, IEnumerable<string> parameters)
    {
        var list = parameters.ToList();
        return list.Count == 0 ? code : $"{code} [{string.Join(", ", list)}]";
    }
}

/// <summary>The error codes the simulator raises (xapi's <c>datamodel_errors.ml</c>).</summary>
public static class XapiErrors
{
    public const string MessageMethodUnknown = "MESSAGE_METHOD_UNKNOWN";
    public const string MessageParameterCountMismatch = "MESSAGE_PARAMETER_COUNT_MISMATCH";
    public const string SessionAuthenticationFailed = "SESSION_AUTHENTICATION_FAILED";
    public const string SessionInvalid = "SESSION_INVALID";
    public const string HostIsSlave = "HOST_IS_SLAVE";
    public const string SrNotFound = "SR_NOT_FOUND";
    public const string VbdNotRemovableMedia = "VBD_NOT_REMOVABLE_MEDIA";
    public const string VbdIsEmpty = "VBD_IS_EMPTY";
    public const string VbdNotEmpty = "VBD_NOT_EMPTY";
    public const string FeatureRestricted = "FEATURE_RESTRICTED";
    public const string VtpmMaxAmountReached = "VTPM_MAX_AMOUNT_REACHED";
    public const string SuspendImageNotAccessible = "SUSPEND_IMAGE_NOT_ACCESSIBLE";
    public const string NoHostsAvailable = "NO_HOSTS_AVAILABLE";
    public const string HostDisabled = "HOST_DISABLED";
    public const string VmRequiresSr = "VM_REQUIRES_SR";
    public const string HostCannotSeeSr = "HOST_CANNOT_SEE_SR";
    public const string VmIncompatibleWithThisHost = "VM_INCOMPATIBLE_WITH_THIS_HOST";
    public const string LicenceRestriction = "LICENCE_RESTRICTION";
    public const string HandleInvalid = "HANDLE_INVALID";
    public const string UuidInvalid = "UUID_INVALID";
    public const string FieldTypeError = "FIELD_TYPE_ERROR";
    public const string MapDuplicateKey = "MAP_DUPLICATE_KEY";
    public const string InvalidValue = "INVALID_VALUE";
    public const string NotImplemented = "NOT_IMPLEMENTED";

    /// <summary>API.response_of_fault: ["Fault", reason], e.g. Async. of a call without an async mode.</summary>
    public const string Fault = "Fault";
    public const string SessionNotRegistered = "SESSION_NOT_REGISTERED";
    public const string InternalError = "INTERNAL_ERROR";
    public const string OperationNotAllowed = "OPERATION_NOT_ALLOWED";
    public const string OperationBlocked = "OPERATION_BLOCKED";
    public const string OtherOperationInProgress = "OTHER_OPERATION_IN_PROGRESS";
    public const string VmBadPowerState = "VM_BAD_POWER_STATE";
    public const string VmIsTemplate = "VM_IS_TEMPLATE";
    public const string VmLacksFeature = "VM_LACKS_FEATURE";
    public const string HostNotEnoughFreeMemory = "HOST_NOT_ENOUGH_FREE_MEMORY";
    public const string MemoryConstraintViolation = "MEMORY_CONSTRAINT_VIOLATION";
    public const string VdiInUse = "VDI_IN_USE";
    public const string VdiTooLarge = "VDI_TOO_LARGE";
    public const string VdiIoError = "VDI_IO_ERROR";
    public const string VdiIncompatibleType = "VDI_INCOMPATIBLE_TYPE";
    public const string VdiReadonly = "VDI_READONLY";
    public const string VdiNoCbtMetadata = "VDI_NO_CBT_METADATA";
    public const string VdiOnBootModeIncompatible = "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION";
    public const string SrOperationNotSupported = "SR_OPERATION_NOT_SUPPORTED";
    public const string NetworkIncompatiblePurposes = "NETWORK_INCOMPATIBLE_PURPOSES";
    public const string SrFull = "SR_FULL";
    public const string SrBackendFailure79 = "SR_BACKEND_FAILURE_79";
    public const string DeviceAlreadyExists = "DEVICE_ALREADY_EXISTS";
    public const string DeviceAlreadyAttached = "DEVICE_ALREADY_ATTACHED";
    public const string DeviceAlreadyDetached = "DEVICE_ALREADY_DETACHED";
    public const string TaskCancelled = "TASK_CANCELLED";
    public const string VmHostIncompatibleVersionMigrate = "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE";
    public const string VdiNotInMap = "VDI_NOT_IN_MAP";
    public const string VifNotInMap = "VIF_NOT_IN_MAP";
    public const string VmMigrateFailed = "VM_MIGRATE_FAILED";
    public const string EventsLost = "EVENTS_LOST";
    public const string EventFromTokenParseFailure = "EVENT_FROM_TOKEN_PARSE_FAILURE";

    /// <summary>Error parameters are strings; numbers go in invariant decimal.</summary>
    public static string Int(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
