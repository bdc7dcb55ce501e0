using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Api.Nova.Servers;

namespace XenMigrate.Api.OpenApi;

/// <summary>
/// The OpenAPI document at /openapi/v1.json (Microsoft.AspNetCore.OpenApi) and Swagger UI at
/// /swagger over it, with an "Authorize" button that sends X-Auth-Token.
/// </summary>
public static class OpenApiSetup
{
    public const string DocumentPath = "/openapi/v1.json";
    private const string TokenScheme = "KeystoneToken";
    private const string MicroversionHeader = "OpenStack-API-Version";

    /// <summary>
    /// Request bodies of endpoints that read their JSON themselves (to answer malformed input in
    /// Nova's and Keystone's words), so Swagger UI's "Try it out" offers an editable example.
    /// </summary>
    private static readonly Dictionary<(string Method, string Path), string> BodyExamples = new()
    {
        [("POST", "identity/v3/auth/tokens")] = """
            {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"admin-demo-password"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}
            """,
    };

    public static IServiceCollection AddXenMigrateOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddOperationTransformer((operation, context, _) =>
        {
            var method = context.Description.HttpMethod ?? string.Empty;
            var path = context.Description.RelativePath ?? string.Empty;
            if (path == "v2.1/servers/{server_id}/action") DescribeServerActions(operation);
            else if (operation.RequestBody is null && BodyExamples.TryGetValue((method, path), out var example))
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object }, Example = JsonNode.Parse(example) },
                    },
                };
            }

            if (path.StartsWith("v2.1/", StringComparison.Ordinal)) AddMicroversionHeader(operation);
            AddFaults(operation, method, path);
            return Task.CompletedTask;
        }).AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "XenMigrate",
                Version = "v1",
                Description = "OpenStack Compute (Nova v2.1) and Keystone v3 over standalone XenServer hosts. " +
                              "Get a token with POST /identity/v3/auth/tokens (it comes back in X-Subject-Token), " +
                              "then press Authorize and paste it.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[TokenScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Auth-Token",
                Description = "A Keystone token from POST /identity/v3/auth/tokens.",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(TokenScheme, document)] = [],
            });
            return Task.CompletedTask;
        }));

    /// <summary>
    /// Nova's microversion header, offered on every compute operation so "Try it out" can send
    /// one (empty: the minimum, 2.1; "latest": the maximum).
    /// </summary>
    private static void AddMicroversionHeader(OpenApiOperation operation)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = MicroversionHeader,
            In = ParameterLocation.Header,
            Required = false,
            Description = $"The compute microversion, e.g. \"compute 2.47\" or \"compute latest\" ({ApiVersion.Min} to {ApiVersion.Max}; " +
                          "none is 2.1). Nova's older X-OpenStack-Nova-API-Version header is read too.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
    }

    /// <summary>The action body as one schema per action key, with each action's example and its status.</summary>
    private static void DescribeServerActions(OpenApiOperation operation)
    {
        var schema = OpenApiModelFactory.Parse<OpenApiSchema>(ServerActionSchemas.BodySchema().ToJsonString(), OpenApiSpecVersion.OpenApi3_1,
            new OpenApiDocument(), out _, "json");
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new()
                {
                    Schema = schema,
                    Examples = ServerActionSchemas.All.ToDictionary(a => a.Key,
                        a => (IOpenApiExample)new OpenApiExample { Summary = a.Summary, Value = JsonNode.Parse(a.Example) }),
                },
            },
        };
        operation.Responses ??= [];
        operation.Responses.Clear();
        foreach (var status in ServerActionSchemas.All.GroupBy(a => a.Status))
            operation.Responses[status.Key.ToString(CultureInfo.InvariantCulture)] = new OpenApiResponse
            {
                Description = string.Join(", ", status.Select(a => a.Key)),
            };
    }

    /// <summary>
    /// The faults an operation can answer, by the gateway's conventions: every call but the version
    /// documents needs a token (401) and passes a policy (403); a body or an action can be bad
    /// (400); a named resource can be missing (404); a server's state can forbid a change (409);
    /// a microversion can be unsupported (406). Nova's fault body is {"badRequest":{"code":400,"message":"…"}}.
    /// </summary>
    private static void AddFaults(OpenApiOperation operation, string method, string path)
    {
        var faults = new SortedDictionary<int, string>();
        var versionDocument = method == "GET" && path is "" or "v2.1" or "identity" or "identity/v3" or "image";
        if (!versionDocument)
        {
            faults[401] = "No token, or an expired or revoked one (Keystone's error body)";
            if (path != "identity/v3/auth/tokens" || method == "DELETE") faults[403] = "The policy refuses the caller (or a quota is exceeded)";
        }

        if (method is "POST" or "PUT") faults[400] = "The body is not what the API's schema accepts";
        if (path.Contains('{', StringComparison.Ordinal)) faults[404] = "Not found (another project's server is not found either)";
        if (path.StartsWith("v2.1/servers/{server_id}", StringComparison.Ordinal) && method is "POST" or "PUT" or "DELETE")
            faults[409] = "The server's state, task or lock forbids it now";
        if (path.StartsWith("v2.1/", StringComparison.Ordinal)) faults[406] = "The microversion asked for is not supported";

        operation.Responses ??= [];
        foreach (var (status, description) in faults)
            operation.Responses.TryAdd(status.ToString(CultureInfo.InvariantCulture), new OpenApiResponse { Description = description });
    }

    public static WebApplication UseXenMigrateSwaggerUi(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath).AllowAnonymous();
        app.UseSwaggerUI(ui =>
        {
            ui.RoutePrefix = "swagger";
            ui.SwaggerEndpoint(DocumentPath, "XenMigrate v1");
            ui.DocumentTitle = "XenMigrate API";
        });
        return app;
    }
}
