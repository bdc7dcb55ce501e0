using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Tempest;

/// <summary>
/// OpenStack's own integration suite, Tempest 33 (Debian's package), run once against the gateway
/// as its own process on its embedded default (SQLite, the simulated three-host lab), with the
/// configuration in <c>tests/tempest/</c>. Each test Tempest must pass is one case here; the run's
/// summary goes to the test output and to <c>TestResults/tempest-summary.txt</c> for CI to print.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public partial class TempestSuiteTests
{
    private static readonly string ConfigDirectory = Path.Combine(Repository.Root, "tests", "tempest");
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(40);

    private readonly Dictionary<string, string> _results = new(StringComparer.Ordinal);
    private string _summary = string.Empty;
    private string _log = string.Empty;
    private TestDatabase? _database;
    private GatewayProcess? _gateway;

    public static IEnumerable<string> MustPass() => Ids("must-pass.txt");

    /// <summary>Tests of features not built yet: each must still fail (a passing one is taken off the list).</summary>
    private static HashSet<string> KnownFailures() => Ids("known-failures.txt").ToHashSet(StringComparer.Ordinal);

    private static IEnumerable<string> Ids(string file) =>
        File.ReadLines(Path.Combine(ConfigDirectory, file)).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));

    [OneTimeSetUp]
    public async Task RunTempest()
    {
        var tempest = TestEnvironment.FindOnPath("tempest");
        TestEnvironment.Require(tempest is not null, "Tempest (Debian package tempest)");

        _database = TestDatabase.Create(DatabaseKind.Sqlite);
        // Tempest shares the two pre-provisioned projects across classes (devstack gives each class its own), so their quotas are raised.
        _gateway = await GatewayProcess.StartAsync(_database, ["--XenServer:EmbeddedLab=true", "--Quota:Instances=200", "--Quota:Cores=400",
            "--Quota:Ram=819200", "--Quota:ServerGroups=100", "--Quota:ServerGroupMembers=100"], "tempest-gateway");
        var token = await _gateway.TokenAsync(TestUsers.Admin);
        var images = (await _gateway.GetAsync("/image/v2/images", token)).Json!["images"]!.AsArray();
        Assert.That(images, Is.Not.Empty, "the gateway publishes XenServer templates as images");
        var imageRef = images[0]!["id"]!.GetValue<string>();

        var workspace = Path.Combine(Path.GetTempPath(), $"xenmigrate-tempest-{Guid.NewGuid():N}");
        await RunAsync(tempest!, ["init", workspace], Path.GetTempPath(), TimeSpan.FromMinutes(2));
        await File.WriteAllTextAsync(Path.Combine(workspace, "etc", "tempest.conf"), Fill("tempest.conf", workspace, imageRef));
        await File.WriteAllTextAsync(Path.Combine(workspace, "etc", "accounts.yaml"), Fill("accounts.yaml", workspace, imageRef));

        var (_, output) = await RunAsync(tempest!, ["run", "--serial", "--include-list", Path.Combine(ConfigDirectory, "include-list.txt"),
            "--exclude-list", Path.Combine(ConfigDirectory, "exclude-list.txt")], workspace, RunTimeout);
        _log = output;
        foreach (Match m in ResultLine().Matches(output)) _results[m.Groups["id"].Value] = m.Groups["result"].Value;
        var totals = output.IndexOf("Totals", StringComparison.Ordinal);
        _summary = totals >= 0 ? output[totals..].Trim() : "(tempest printed no totals)";

        var resultsDirectory = Path.Combine(Repository.Root, "TestResults");
        Directory.CreateDirectory(resultsDirectory);
        await File.WriteAllTextAsync(Path.Combine(resultsDirectory, "tempest-summary.txt"), _summary + Environment.NewLine);
        await File.WriteAllTextAsync(Path.Combine(resultsDirectory, "tempest-output.txt"), output);
        await TestContext.Progress.WriteLineAsync("Tempest: " + _summary);
    }

    [OneTimeTearDown]
    public async Task StopGateway()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
    }

    [TestCaseSource(nameof(MustPass))]
    public void TempestTest_Passes(string testId)
    {
        Assert.That(_results.TryGetValue(testId, out var result), $"Tempest did not run {testId}.{Environment.NewLine}{Excerpt(testId)}");
        Assert.That(result, Is.EqualTo("ok"), $"{testId}: {result}{Environment.NewLine}{Excerpt(testId)}");
    }

    [Test]
    public void NoTempestTestFailed_ButTheKnownFailures()
    {
        var known = KnownFailures();
        var failed = _results.Where(r => r.Value == "FAILED" && !known.Contains(r.Key)).Select(r => r.Key).ToList();
        Assert.That(failed, Is.Empty, string.Join(Environment.NewLine, failed.Select(Excerpt)));
        Assert.That(_results, Is.Not.Empty, _summary);
    }

    [Test]
    public void EveryKnownFailure_RanAndStillFails()
    {
        var stale = KnownFailures().Where(id => !_results.TryGetValue(id, out var result) || result != "FAILED")
            .Select(id => $"{id}: {(_results.TryGetValue(id, out var r) ? r : "did not run")}").ToList();
        Assert.That(stale, Is.Empty, "take these off tests/tempest/known-failures.txt");
    }

    // "{0} tempest.api...test_x[id-…,tags] [1.23s] ... ok" (or FAILED, or "... SKIPPED: why"); class set-up failures as "setUpClass (tempest…)".
    [GeneratedRegex(@"^\{\d+\} (?:setUpClass \()?(?<id>tempest\.[\w.]+?)\)?(?:\[[^\]\s]*\])?(?: \[[\d.]+s\])? \.\.\. (?<result>ok|FAILED|SKIPPED)", RegexOptions.Multiline)]
    private static partial Regex ResultLine();

    /// <summary>The part of Tempest's output about one test (its traceback), for a failure message.</summary>
    private string Excerpt(string testId)
    {
        var at = _log.IndexOf(testId, StringComparison.Ordinal);
        var gatewayLog = _gateway?.ReadLog() ?? string.Empty;
        var tail = gatewayLog.Length > 4000 ? gatewayLog[^4000..] : gatewayLog;
        return (at < 0 ? _summary : _log.Substring(at, Math.Min(6000, _log.Length - at))) + Environment.NewLine + "--- gateway log (tail) ---" + Environment.NewLine + tail;
    }

    private string Fill(string template, string workspace, string imageRef) =>
        File.ReadAllText(Path.Combine(ConfigDirectory, template))
            .Replace("@GATEWAY@", _gateway!.BaseUrl, StringComparison.Ordinal)
            .Replace("@WORKSPACE@", workspace, StringComparison.Ordinal)
            .Replace("@IMAGE_REF@", imageRef, StringComparison.Ordinal)
            .Replace("@DEMO_USER@", TestUsers.Demo.Name, StringComparison.Ordinal)
            .Replace("@DEMO_PROJECT@", TestUsers.Demo.Project, StringComparison.Ordinal)
            .Replace("@DEMO_PASSWORD@", TestUsers.Demo.Password, StringComparison.Ordinal)
            .Replace("@ADMIN_USER@", TestUsers.Admin.Name, StringComparison.Ordinal)
            .Replace("@ADMIN_PROJECT@", TestUsers.Admin.Project, StringComparison.Ordinal)
            .Replace("@ADMIN_PASSWORD@", TestUsers.Admin.Password, StringComparison.Ordinal)
            .Replace("@OTHER_USER@", TestUsers.Other.Name, StringComparison.Ordinal)
            .Replace("@OTHER_PROJECT@", TestUsers.Other.Project, StringComparison.Ordinal)
            .Replace("@OTHER_PASSWORD@", TestUsers.Other.Password, StringComparison.Ordinal);

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment.Remove("TEMPEST_CONFIG_DIR");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output) output.AppendLine($"(killed after {timeout})");
        }

        lock (output) return (process.HasExited ? process.ExitCode : -1, output.ToString());
    }
}
