using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace XenMigrate.Api.OpenApi;

/// <summary>
/// The OpenAPI document at /openapi/v1.json (Microsoft.AspNetCore.OpenApi) and Swagger UI at
/// /swagger over it, with an "Authorize" button that sends X-Auth-Token.
/// </summary>
public static class OpenApiSetup
{
    public const string DocumentPath = "/openapi/v1.json";
    private const string TokenScheme = "KeystoneToken";

    /// <summary>
    /// Request bodies of endpoints that read their JSON themselves (to answer malformed input in
    /// Nova's and Keystone's words), so Swagger UI's "Try it out" offers an editable example.
    /// </summary>
    private static readonly Dictionary<(string Method, string Path), string> BodyExamples = new()
    {
        [("POST", "identity/v3/auth/tokens")] = """
            {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"admin-demo-password"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}
            """,
        [("POST", "v2.1/servers/{server_id}/action")] = """{"resize":{"flavorRef":"2"}}""",
    };

    public static IServiceCollection AddXenMigrateOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddOperationTransformer((operation, context, _) =>
        {
            var key = (context.Description.HttpMethod ?? string.Empty, context.Description.RelativePath ?? string.Empty);
            if (operation.RequestBody is null && BodyExamples.TryGetValue(key, out var example))
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
