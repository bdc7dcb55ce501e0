namespace XenMigrate.Api.Nova.Faults;

/// <summary>Nova's own wording for every fault the gateway returns, in one place.</summary>
public static class NovaMessages
{
    public const string ResourceNotFound = "The resource could not be found.";
    public const string MethodNotAllowed = "The method specified is not allowed for this resource.";
    public const string AuthenticationRequired = "The request you have made requires authentication.";
    public const string Forbidden = "You are not authorized to perform the requested action.";
    public const string UnsupportedContentType = "Unsupported Content-Type";
    public const string MalformedBody = "Malformed request body";
    public const string RequestTooLarge = "Request is too large.";

    public static string Unexpected(string requestId) =>
        $"Unexpected API Error. Please report this to your cloud operator, quoting request {requestId}.";

    public static string NoSuchAction(string action) => $"There is no such action: {action}";
    public const string ForceWithoutHost = "Can't force to a non-provided destination";

    /// <summary>Nova's JSON-schema failure: "Invalid input for field/attribute X. Value: V. why".</summary>
    public static string InvalidInput(string field, string value, string detail) =>
        $"Invalid input for field/attribute {field}. Value: {value}. {detail}";

    /// <summary><see cref="InvalidInput(string, string, string)"/> with the value printed as Nova prints it.</summary>
    public static string InvalidInput(string field, System.Text.Json.Nodes.JsonNode? value, string detail) =>
        InvalidInput(field, NovaValues.Str(value), detail);

    public static string FlavorNotFound(string id) => $"Flavor {id} could not be found.";
    public static string MarkerNotFound(string marker) => $"marker [{marker}] not found";

    public static string ProjectMismatch(string urlProject, string contextProject) =>
        $"Malformed request URL: URL's project_id '{urlProject}' doesn't match Context's project_id '{contextProject}'";

    public static string VersionUnsupported(string requested, string min, string max) =>
        $"Version {requested} is not supported by the API. Minimum is {min} and maximum is {max}.";

    public static string VersionMalformed(string requested) =>
        $"API Version String {requested} is of invalid format. Must be of format MajorNum.MinorNum.";

    public const string InvalidFlavorRef = "Invalid flavorRef provided.";
    public const string MissingImageRef = "Missing imageRef attribute";
    public static string ImageNotFound(string id) => $"Image {id} could not be found.";

    /// <summary>Nova's InvalidName, raised by the 'name' format check of server names.</summary>
    public const string InvalidServerName =
        "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";

    public static string QuotaBelowUsage(int limit, string resource, int minimum) =>
        $"Quota limit {limit} for {resource} must be greater than or equal to already used and reserved {minimum}.";

    public static string InvalidQuery(string name, string value, string detail) =>
        $"Invalid input for query parameters {name}. Value: {value}. {detail}";
}
