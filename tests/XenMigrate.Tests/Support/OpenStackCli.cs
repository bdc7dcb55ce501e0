using System.Diagnostics;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Support;

/// <summary>
/// Runs the real `openstack` command (Debian's python3-openstackclient) against a gateway, logged
/// in through the gateway's Keystone API like any user would be.
/// </summary>
public sealed class OpenStackCli(GatewayInstance gateway, TestUsers.Account account)
{
    public static string? Executable => TestEnvironment.FindOnPath("openstack");

    public static void RequireInstalled() => TestEnvironment.Require(Executable is not null, "The openstack CLI (python3-openstackclient)");

    public async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Executable!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);

        // A clean environment: no stray OS_* variables or clouds.yaml from the machine.
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        start.Environment["HOME"] = Path.Combine(Path.GetTempPath(), "xenmigrate-cli-home");
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["OS_AUTH_URL"] = gateway.BaseUrl + "/identity";
        start.Environment["OS_IDENTITY_API_VERSION"] = "3";
        start.Environment["OS_USERNAME"] = account.Name;
        start.Environment["OS_PASSWORD"] = account.Password;
        start.Environment["OS_PROJECT_NAME"] = account.Project;
        start.Environment["OS_USER_DOMAIN_NAME"] = "Default";
        start.Environment["OS_PROJECT_DOMAIN_NAME"] = "Default";
        start.Environment["OS_REGION_NAME"] = "RegionOne";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start openstack.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"openstack {string.Join(' ', args)} did not finish in 90 s.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a command with <c>-f json</c> and parses its output; fails the test on a non-zero exit.</summary>
    public async Task<JsonNode> JsonAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await RunAsync([.. args, "-f", "json"]);
        Assert.That(exit, Is.Zero, $"openstack {string.Join(' ', args)} failed:\n{stderr}\n{stdout}");
        return JsonNode.Parse(stdout) ?? throw new InvalidOperationException("openstack printed no JSON.");
    }
}
