using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// Sends the bad-input corpus (bad-input-corpus.json) to every route the gateway maps, read from
/// its EndpointDataSource so a new route is covered without touching this test. Each answer must
/// be the fault Nova gives it, never a 500, and no request may change the database.
/// </summary>
public partial class BadInputCorpusTests
{
    private const string ActionRoute = "/servers/{server_id}/action";
    private const string TokensRoute = "/identity/v3/auth/tokens";

    /// <summary>Paths served by middleware rather than endpoints: checked for "no 500" only.</summary>
    private static readonly (string Method, string Path)[] MiddlewarePaths =
    [
        ("GET", "/hangfire"), ("GET", "/hangfire/jobs/enqueued"), ("GET", "/hangfire/recurring"), ("GET", "/hangfire/servers"),
        ("POST", "/hangfire/stats"), ("GET", "/swagger"), ("GET", "/swagger/index.html"), ("GET", "/swagger/v1/swagger.json"),
    ];

    /// <summary>Nova's faults (nova/api/openstack/wsgi.py Fault, api-ref "Faults"), written out again here so the product's own table is not checked against itself.</summary>
    private static string FaultName(int status) => status switch
    {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 or 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    };

    private sealed record Route(string Method, string Template, bool Shaped)
    {
        public bool IsAction => Template.EndsWith(ActionRoute, StringComparison.Ordinal);
        public bool IsTokens => Template == TokensRoute && Method == "POST";
        public bool IsCompute => Template.StartsWith("/v2.1", StringComparison.Ordinal);

        /// <summary>
        /// A member is refused (body schema, microversion or admin-only policy) before the id is read: flavor
        /// management and access, services, hypervisors, aggregates, host drains and a server update without a body
        /// and tags without one (Nova validates the body first). Any id then gets the baseline's answer.
        /// </summary>
        public bool RefusesMemberBeforeId =>
            (Method != "GET" && Template.Contains("/flavors", StringComparison.Ordinal))
            || Template.EndsWith("/os-flavor-access", StringComparison.Ordinal) || Template.Contains("/os-hosts/", StringComparison.Ordinal)
            || Template.Contains("/os-quota-class-sets/", StringComparison.Ordinal) || Template.Contains("/os-instance_usage_audit_log/", StringComparison.Ordinal)
            || (Method == "PUT" && (Template.EndsWith("/servers/{server_id}", StringComparison.Ordinal) || Template.TrimEnd('/').EndsWith("/servers/{server_id}/tags", StringComparison.Ordinal)))
            || Template.Contains("/os-services/", StringComparison.Ordinal) || Template.Contains("/os-hypervisors/", StringComparison.Ordinal)
            || Template.Contains("/os-aggregates/", StringComparison.Ordinal)
            || Template.Contains("/host-drains/", StringComparison.Ordinal);

        /// <summary>
        /// Keystone loads the named project or user, then checks policy against it (keystone/api/projects.py
        /// _build_project_target_enforcement, users.py for /users/{id}/projects): a member naming anything but
        /// their own project or user is refused 403, whether the id exists or not.
        /// </summary>
        public bool ChecksPolicyOnTarget => Template.StartsWith("/identity/v3/", StringComparison.Ordinal);
    }

    /// <summary>What an answer must be. A null status means any status but a 500.</summary>
    private sealed record Expect(int? Status, string? Message = null, string? MessagePrefix = null, bool Kestrel = false, bool Shaped = true,
        bool PathMayChange = false)
    {
        public static readonly Expect NoCrash = new(null, Shaped: false);
    }

    [Test]
    public async Task EveryRoute_AnswersEveryBadInputWithItsFault_NeverA500_AndChangesNothing()
    {
        var corpus = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(TestContext.CurrentContext.TestDirectory, "Reliability", "bad-input-corpus.json")))!;
        await using var database = TestDatabase.Create(DatabaseKind.Sqlite);
        // The corpus is a flood by design; the limiter stays in the pipeline but never trips (RateLimitTests cover it).
        await using var gw = await GatewayInstance.StartAsync(database, ["--RateLimit:PermitsPerSecond=1000000", "--RateLimit:Burst=1000000"]);
        var demo = await gw.TokenAsync(TestUsers.Demo);
        var admin = await gw.TokenAsync(TestUsers.Admin);
        var own = await gw.AddServerAsync("own", TestUsers.Demo);
        var foreign = await gw.AddServerAsync("foreign", TestUsers.Other);
        var placeholders = new Dictionary<string, string>
        {
            ["{own_server}"] = own.Id.ToString(),
            ["{own_server_n}"] = own.Id.ToString("N"),
            ["{other_server}"] = foreign.Id.ToString(),
            ["{other_project}"] = await gw.ProjectIdAsync(TestUsers.Other.Project),
        };
        var defaults = new Dictionary<string, string>
        {
            ["project_id"] = await gw.ProjectIdAsync(TestUsers.Demo.Project),
            ["server_id"] = own.Id.ToString(),
            ["flavor_id"] = "1",
            ["key"] = "no-such-key",
            ["migration_id"] = "1",
            ["request_id"] = "req-" + Guid.Empty,
            ["image_id"] = Guid.NewGuid().ToString(),
            ["tenant_id"] = await gw.ProjectIdAsync(TestUsers.Demo.Project),
            ["keypair_name"] = "no-such-key",
            ["server_group_id"] = Guid.NewGuid().ToString(),
            ["host_name"] = "no-such-host",
            ["hypervisor_hostname_pattern"] = "no-such-host",
            ["alias"] = "os-hosts",
            ["tag"] = "no-such-tag",
            ["id"] = "default",
            ["before_timestamp"] = "2026-01-01 00:00:00",
            ["network_label"] = "no-such-network",
        };

        var routes = MappedRoutes(gw);
        Assert.That(routes.Select(r => r.Template), Does.Contain("/v2.1/{project_id}" + ActionRoute).And.Contain("/v2.1" + ActionRoute)
            .And.Contain(TokensRoute).And.Contain("/image/v2/images/{image_id}").And.Contain("/"));
        var endpoints = routes.Count;
        routes.AddRange(MiddlewarePaths.Select(p => new Route(p.Method, p.Path, Shaped: false)));

        var before = await SnapshotAsync(database);
        var run = new Run(gw);

        // Baselines: each route as a plain request; a body, query or header the route does not read must not change it.
        var baseline = new Dictionary<Route, int>();
        // A plain DELETE is a good request, not a bad input: its baseline names a server that does not exist.
        var deleteDefaults = new Dictionary<string, string>(defaults) { ["server_id"] = Guid.NewGuid().ToString() };
        foreach (var route in routes)
            baseline[route] = await run.SendAsync("baseline", route.Method, Fill(route.Template, DefaultsFor(route)),
                TokenFor(route), Shaped(route, null));

        foreach (var body in corpus["bodies"]!.AsArray().Select(b => b!))
        {
            var bytes = BodyBytes(body);
            var contentType = body.AsObject().TryGetPropertyValue("contentType", out var ct) ? ct?.GetValue<string>() : "application/json";
            var chunked = body["chunked"]?.GetValue<bool>() ?? false;
            var microversion = body["microversion"]?.GetValue<string>();
            foreach (var route in routes.Where(r => r.Method is "GET" or "POST"))
            {
                var path = Fill(route.Template, defaults);
                var expect = route switch
                {
                    { Shaped: false } => Expect.NoCrash,
                    { IsAction: true } => FromCase(body["action"]!),
                    { IsTokens: true } => FromCase(body["keystone"]!),
                    { Method: "GET" } => new Expect(microversion is null ? baseline[route] : null), // another version may answer otherwise
                    _ => Expect.NoCrash,
                };
                var what = $"body '{body["name"]}'";
                await run.SendAsync(what, route.Method, path, TokenFor(route), expect, bytes, contentType, chunked, microversion);
                if (route.Method == "GET" && !routes.Any(r => r.Template == route.Template && r.Method == "POST")) // the same body on the wrong method
                    await run.SendAsync(what + " (POST)", "POST", path, TokenFor(route), Shaped(route, 405), bytes, contentType, chunked, microversion);
            }
        }

        foreach (var id in corpus["ids"]!.AsArray().Select(i => i!))
        {
            var value = Repeat(id["value"]!.GetValue<string>(), id);
            foreach (var (key, replacement) in placeholders) value = value.Replace(key, replacement, StringComparison.Ordinal);
            foreach (var route in routes.Where(r => r.Template.Contains('{', StringComparison.Ordinal)))
            {
                foreach (var parameter in Parameters(route.Template))
                {
                    // DELETE names a server that does not exist: a dot segment in a later id ("/migrations/..") must not reach a real one.
                    var path = Fill(route.Template, new Dictionary<string, string>(DefaultsFor(route)) { [parameter] = value });
                    var idBlind = route.RefusesMemberBeforeId && parameter != "project_id" && id["status"] is { } given && StatusOf(given) is not null;
                    // No corpus id is the member's own; dot segments (no status either way) are served by another route.
                    var foreignTarget = route.ChecksPolicyOnTarget && id["kestrel"] is null
                                        && (StatusOf(id["status"]!) ?? StatusOf(id["projectStatus"]!)) is not null;
                    var expect = id["kestrel"] is { } k
                        ? new Expect(k.GetValue<int>(), Kestrel: true)
                        : idBlind ? Shaped(route, baseline[route])
                        : foreignTarget ? Shaped(route, 403)
                        : Shaped(route, TenantStatus(route, parameter, StatusOf(id[parameter == "project_id" ? "projectStatus" : "status"]!))) with
                        {
                            PathMayChange = StatusOf(id[parameter == "project_id" ? "projectStatus" : "status"]!) is null, // dot segments: served elsewhere
                        };
                    // A body the action route would act on, were the id to resolve to a server the caller may change.
                    var bytes = route.IsAction ? """{"resize":{"flavorRef":"2"}}"""u8.ToArray() : null;
                    await run.SendAsync($"id '{id["name"]}' as {parameter}", route.Method, path, TokenFor(route), expect, bytes);
                }
            }
        }

        foreach (var mv in corpus["microversions"]!.AsArray().Select(m => m!))
        {
            var value = mv["value"]!.GetValue<string>();
            foreach (var (header, headerValue) in new[] { ("OpenStack-API-Version", "compute " + value), ("X-OpenStack-Nova-API-Version", value) })
            {
                foreach (var route in routes)
                {
                    var expect = route.IsCompute
                        ? new Expect(mv["status"]!.GetValue<int>(), mv["message"]!.GetValue<string>())
                        : Shaped(route, baseline[route]);
                    await run.SendAsync($"microversion {header}: {headerValue}", route.Method, Fill(route.Template, DefaultsFor(route)), TokenFor(route),
                        expect, header: (header, headerValue));
                }
            }
        }

        foreach (var query in corpus["queries"]!.AsArray().Select(q => q!.GetValue<string>()))
        {
            foreach (var route in routes.Where(r => r.Method == "GET"))
                await run.SendAsync($"query {query}", "GET", Fill(route.Template, defaults) + "?" + query, TokenFor(route), Shaped(route, null));
        }

        foreach (var route in routes)
        {
            var path = Fill(route.Template, defaults);
            foreach (var method in new[] { "GET", "POST", "PUT", "DELETE", "PATCH" }.Where(m => !routes.Any(r => r.Template == route.Template && r.Method == m)))
            {
                // /flavors/detail is also /flavors/{flavor_id} to a DELETE or PUT (as in Nova's router): that route answers, not a 405.
                var sibling = routes.Any(r => r.Method == method && r.Template != route.Template && Parameter().Replace(r.Template, "*") is var pattern
                                              && Regex.IsMatch(path, "^" + Regex.Escape(pattern).Replace(@"\*", "[^/]+", StringComparison.Ordinal) + "$"));
                await run.SendAsync($"method {method}", method, path, TokenFor(route), Shaped(route, sibling ? null : 405));
            }

            foreach (var token in new[] { null, "' OR 1=1 --", "{{7*7}}" })
                await run.SendAsync($"token {token ?? "(none)"}", route.Method, path, token, Shaped(route, null));
        }

        var after = await SnapshotAsync(database);
        var stateChanges = before.Except(after).Concat(after.Except(before)).ToList();
        var tally = string.Join(", ", run.ByStatus.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value}"));
        await TestContext.Out.WriteLineAsync(
            $"bad inputs tried: {run.Sent} on {endpoints} mapped routes (+{MiddlewarePaths.Length} dashboard/Swagger paths), " +
            $"500s: {run.ServerErrors}, state changes: {stateChanges.Count}");
        await TestContext.Out.WriteLineAsync($"by status: {tally}");
        foreach (var failure in run.Failures) await TestContext.Out.WriteLineAsync("FAIL " + failure);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ServerErrors, Is.Zero, "500s");
            Assert.That(stateChanges, Is.Empty, "rows that changed");
            Assert.That(run.Failures.Take(60), Is.Empty, $"{run.Failures.Count} answers were not the expected fault");
        }

        string? TokenFor(Route route) => route.Shaped ? demo : admin; // the dashboard renders for admins only
        IReadOnlyDictionary<string, string> DefaultsFor(Route route) => route.Method == "DELETE" ? deleteDefaults : defaults;
    }

    /// <summary>
    /// A quota set's tenant_id names no object: for a member any other project is Nova's policy refusal
    /// (403), except the defaults, which anyone may read for any id.
    /// </summary>
    private static int? TenantStatus(Route route, string parameter, int? status) =>
        parameter != "tenant_id" || status is null ? status : route.Template.EndsWith("/defaults", StringComparison.Ordinal) ? 200 : 403;

    private static Expect Shaped(Route route, int? status) => route.Shaped ? new Expect(status) : Expect.NoCrash;

    private static int? StatusOf(JsonNode node) => node.GetValueKind() == JsonValueKind.Number ? node.GetValue<int>() : null;

    private static Expect FromCase(JsonNode expected) =>
        new(expected["status"]!.GetValue<int>(), expected["message"]?.GetValue<string>(), expected["messageStartsWith"]?.GetValue<string>());

    private static byte[] BodyBytes(JsonNode body) =>
        body["base64"] is { } b64 ? Convert.FromBase64String(b64.GetValue<string>()) : Encoding.UTF8.GetBytes(Repeat(body["raw"]!.GetValue<string>(), body));

    private static string Repeat(string text, JsonNode spec) =>
        spec["repeat"] is { } r
            ? text.Replace("@@REPEAT@@", string.Concat(Enumerable.Repeat(r["text"]!.GetValue<string>(), r["count"]!.GetValue<int>())), StringComparison.Ordinal)
            : text;

    /// <summary>Every route pattern and method in the app's endpoint data source.</summary>
    private static List<Route> MappedRoutes(GatewayInstance gw) =>
        gw.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => new Route(m, "/" + e.RoutePattern.RawText!.TrimStart('/'), !IsDashboard(e.RoutePattern.RawText!))))
            .Distinct().OrderBy(r => r.Template, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal).ToList();

    private static bool IsDashboard(string template) => template.TrimStart('/').StartsWith("hangfire", StringComparison.Ordinal);

    [GeneratedRegex(@"\{\**([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")]
    private static partial Regex Parameter();

    private static IEnumerable<string> Parameters(string template) => Parameter().Matches(template).Select(m => m.Groups[1].Value);

    private static string Fill(string template, IReadOnlyDictionary<string, string> values) =>
        Parameter().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : "x");

    /// <summary>Every row of every table the model maps, as text, so any insert, update or delete shows.</summary>
    private static async Task<HashSet<string>> SnapshotAsync(TestDatabase database)
    {
        await using var db = database.NewContext();
        var rows = new HashSet<string>(StringComparer.Ordinal);
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        foreach (var table in db.Model.GetEntityTypes().Select(e => e.GetTableName()).OfType<string>().Distinct())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM \"{table}\"";
            await using DbDataReader reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var fields = Enumerable.Range(0, reader.FieldCount)
                    .Select(i => $"{reader.GetName(i)}={Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)}");
                rows.Add(table + ": " + string.Join(" | ", fields));
            }
        }

        Assert.That(rows.Count(r => r.StartsWith("Servers: ", StringComparison.Ordinal)), Is.EqualTo(2), "the snapshot sees the seeded servers");
        return rows;
    }

    /// <summary>Sends requests, checks each answer and keeps the tally.</summary>
    private sealed partial class Run(GatewayInstance gw)
    {
        public int Sent { get; private set; }
        public int ServerErrors { get; private set; }
        public Dictionary<int, int> ByStatus { get; } = [];
        public List<string> Failures { get; } = [];

        public async Task<int> SendAsync(string what, string method, string path, string? token, Expect expect, byte[]? body = null,
            string? contentType = "application/json", bool chunked = false, string? microversion = null, (string Name, string Value)? header = null)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (token is not null) request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
            if (microversion is not null) request.Headers.TryAddWithoutValidation("OpenStack-API-Version", "compute " + microversion);
            if (header is { } h) request.Headers.TryAddWithoutValidation(h.Name, h.Value);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                if (contentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                if (chunked) request.Headers.TransferEncodingChunked = true;
            }

            var label = $"{what} → {method} {Shorten(path)}";
            Sent++;
            using var response = await gw.Http.SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            ByStatus[status] = ByStatus.GetValueOrDefault(status) + 1;
            if (status >= 500)
            {
                ServerErrors++;
                Failures.Add($"{label}: {status} {Shorten(text)}");
                return status;
            }

            if (expect.Status is { } wanted && status != wanted)
                Failures.Add($"{label}: {status}, expected {wanted}: {Shorten(text)}");
            if (!expect.Shaped || method == "HEAD" || status < 400) return status;
            if (expect.Kestrel)
            {
                // Refused while parsing the request, before any middleware: no body of ours.
                if (text.Length != 0) Failures.Add($"{label}: expected Kestrel's bodiless refusal, got {Shorten(text)}");
                return status;
            }

            var problem = FaultProblem(path, status, response, text, expect);
            if (problem is not null) Failures.Add($"{label}: {status} {problem}: {Shorten(text)}");
            return status;
        }

        private static string? FaultProblem(string path, int status, HttpResponseMessage response, string text, Expect expect)
        {
            if (response.Content.Headers.ContentType?.MediaType != "application/json") return "not application/json";
            JsonNode? json;
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                return "not JSON";
            }

            // keystonemiddleware answers 401 in Keystone's shape on every route; /identity always does.
            var keystone = status == 401 || path.StartsWith("/identity", StringComparison.Ordinal);
            JsonNode? fault = keystone ? json?["error"] : json is JsonObject { Count: 1 } o ? o[FaultName(status)] : null;
            if (fault?["code"] is not JsonValue code || code.GetValueKind() != JsonValueKind.Number || code.GetValue<int>() != status)
                return keystone ? "not Keystone's error shape" : $"not a Nova {FaultName(status)} fault";
            if (fault["message"] is not JsonValue m || m.GetValueKind() != JsonValueKind.String || m.GetValue<string>().Length == 0) return "no message";
            var message = m.GetValue<string>();
            if (expect.Message is { } exact && message != exact) return $"message is not '{Shorten(exact)}'";
            if (expect.MessagePrefix is { } prefix && !message.StartsWith(prefix, StringComparison.Ordinal)) return $"message does not start '{prefix}'";
            if (status == 401 && !(response.Headers.WwwAuthenticate.ToString().StartsWith("Keystone uri=", StringComparison.Ordinal)))
                return "401 without WWW-Authenticate: Keystone";
            if (path.StartsWith("/v2.1", StringComparison.Ordinal) && !expect.PathMayChange)
            {
                if (!response.Headers.TryGetValues("x-openstack-request-id", out var ids) || !RequestId().IsMatch(ids.Single())) return "no request id";
                if (!response.Headers.TryGetValues("OpenStack-API-Version", out var versions) || !versions.Single().StartsWith("compute 2.", StringComparison.Ordinal))
                    return "no microversion header";
            }

            return null;
        }

        [GeneratedRegex("^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
        private static partial Regex RequestId();

        private static string Shorten(string s) => s.Length <= 160 ? s : s[..160] + $"…({s.Length})";
    }
}
