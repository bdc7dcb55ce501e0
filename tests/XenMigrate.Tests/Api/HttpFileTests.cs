using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>
/// src/XenMigrate.Api/XenMigrate.Api.http stays true: every request names a route the gateway maps,
/// every body is JSON, every variable is defined, and its reads answer 200 on a real gateway.
/// </summary>
public partial class HttpFileTests : GatewayFixture
{
    private sealed record Request(string Method, string Url, IReadOnlyDictionary<string, string> Headers, string Body);

    [Test]
    public void EveryRequest_NamesAMappedRoute_WithAJsonBody_AndKnownVariables()
    {
        var (variables, requests) = Parse();
        Assert.That(requests, Has.Count.GreaterThanOrEqualTo(10));
        var routes = Gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => (m, Segments(e.RoutePattern.RawText ?? ""))))
            .ToList();
        var named = requests.Select(r => r.Headers.GetValueOrDefault("@name")).OfType<string>().ToHashSet();
        foreach (var request in requests)
        {
            var path = new Uri(Expand(request.Url, variables, _ => "x")).AbsolutePath;
            Assert.That(routes.Any(r => (r.m == request.Method || r.m == "*") && Matches(r.Item2, Segments(path))), Is.True,
                $"{request.Method} {request.Url} is no route of the gateway");
            if (request.Body.Length > 0) Assert.DoesNotThrow(() => JsonNode.Parse(request.Body), $"{request.Method} {request.Url}: body is not JSON");
            foreach (Match use in Variable().Matches(request.Url + string.Concat(request.Headers.Values) + request.Body))
            {
                var name = use.Groups[1].Value;
                Assert.That(variables.ContainsKey(name) || named.Contains(name.Split('.')[0]), Is.True, $"{{{{{name}}}}} is never defined");
            }
        }
    }

    [Test]
    public async Task TheReads_Answer200()
    {
        var server = await Gateway.AddServerAsync("http-file", TestUsers.Admin);
        var (variables, requests) = Parse();
        variables["gateway"] = Gateway.Http.BaseAddress!.ToString().TrimEnd('/');
        variables["server"] = server.Id.ToString();
        variables["token"] = AdminToken;
        foreach (var read in requests.Where(r => r.Method == "GET" && !r.Url.Contains("response.", StringComparison.Ordinal)))
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, Expand(read.Url, variables, n => throw new AssertionException(n)));
            foreach (var (key, value) in read.Headers.Where(h => !h.Key.StartsWith('@')))
                message.Headers.TryAddWithoutValidation(key, Expand(value, variables, n => throw new AssertionException(n)));
            using var response = await Gateway.Http.SendAsync(message);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"GET {read.Url}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static (Dictionary<string, string> Variables, List<Request> Requests) Parse()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var requests = new List<Request>();
        foreach (var block in File.ReadAllText(RepositoryPaths.Of("src", "XenMigrate.Api", "XenMigrate.Api.http")).Split("###"))
        {
            var lines = block.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? method = null, url = null;
            var body = new List<string>();
            var inBody = false;
            foreach (var line in lines.Skip(1))
            {
                if (line.StartsWith("# @name ", StringComparison.Ordinal)) headers["@name"] = line[8..].Trim();
                else if (line.StartsWith('#')) continue;
                else if (method is null && line.StartsWith('@') && line.Contains('=')) variables[line[1..line.IndexOf('=')].Trim()] = line[(line.IndexOf('=') + 1)..].Trim();
                else if (method is null && line.Length > 0) (method, url) = (line.Split(' ')[0], line.Split(' ')[1]);
                else if (method is not null && !inBody && line.Length == 0) inBody = true;
                else if (method is not null && !inBody) headers[line[..line.IndexOf(':')]] = line[(line.IndexOf(':') + 1)..].Trim();
                else if (inBody) body.Add(line);
            }

            if (method is not null) requests.Add(new Request(method, url!, headers, string.Join('\n', body).Trim()));
        }

        return (variables, requests);
    }

    private static string Expand(string text, Dictionary<string, string> variables, Func<string, string> unknown) =>
        Variable().Replace(text, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? Expand(v, variables, unknown) : unknown(m.Groups[1].Value));

    private static string[] Segments(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private static bool Matches(string[] pattern, string[] path) =>
        pattern.Length == path.Length && pattern.Zip(path).All(p => p.First.StartsWith('{') || string.Equals(p.First, p.Second, StringComparison.Ordinal));

    [GeneratedRegex(@"\{\{([^}]+)\}\}")]
    private static partial Regex Variable();
}
