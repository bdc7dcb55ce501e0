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

    public static IServiceCollection AddXenMigrateOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
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
