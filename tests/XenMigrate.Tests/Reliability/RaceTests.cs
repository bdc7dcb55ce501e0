using System.Net;
using System.Text.RegularExpressions;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// Many requests on one server at once: exactly one is accepted, the rest get Nova's answer for
/// the state the winner left (409 "Cannot '…' instance … while it is in …", or 400 "Instance has
/// not been resized." for a confirm or revert once another was accepted, as Nova's own checks
/// order it), never a 500; and the server ends with one VM.
/// </summary>
[NonParallelizable]
[TestFixture(DatabaseKind.Sqlite)]
[TestFixture(DatabaseKind.PostgreSql, Category = TestCategories.External)]
public class RaceTests(DatabaseKind kind) : ReliabilityFixture
{
    private const int Requests = 20;
    private int _serverErrors;

    protected override DatabaseKind Kind => kind;

    protected override string TallyName => $"races on {kind} with one winner";

    protected override string TallyExtra => $", 500s {_serverErrors}";

    private static readonly (string Action, string Body, bool AsAdmin)[] Moves =
    [
        ("resize", """{"resize":{"flavorRef":"w2"}}""", false),
        ("migrate", """{"migrate":null}""", true),
        ("confirmResize", """{"confirmResize":null}""", false),
        ("revertResize", """{"revertResize":null}""", false),
    ];

    [Test]
    public async Task ResizeMigrateConfirmRevert_AtOnce_OnAnActiveServer_OneResizeOrMigrateWins()
    {
        Tried();
        var id = await SeedSmallAsync(0, $"race-active-{kind}");
        var sha = await GuestDataShaAsync(Lab[0], id);
        Lab[0].Faults.DelayNext("VM.snapshot", TimeSpan.FromSeconds(3)); // the winner cannot reach VERIFY_RESIZE while the others are answered

        var results = await FireAsync(id, Enumerable.Range(0, Requests).Select(i => Moves[i % Moves.Length]).ToList());

        var winners = results.Where(r => r.Response.Status is HttpStatusCode.Accepted or HttpStatusCode.NoContent).ToList();
        Assert.That(winners, Has.Count.EqualTo(1), Describe(results));
        Assert.That(winners[0].Action, Is.AnyOf("resize", "migrate"), "confirm and revert need a finished resize");
        foreach (var (action, response) in results.Where(r => r != winners[0]))
            AssertConflict(id, action, response, action is "resize" or "migrate" ? @"task_state resize_\w+" : "vm_state active");

        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE", 90);
        Assert.That(await RunningCopiesAsync(id), Is.EqualTo(1));
        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await ExpectSettledAsync(id, HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>()), "confirmed", sha);
        Survived();
    }

    [Test]
    public async Task ConfirmRacingRevert_OnAVerifyResizeServer_ExactlyOneWins()
    {
        Tried();
        var id = await SeedSmallAsync(1, $"race-verify-{kind}");
        var sha = await GuestDataShaAsync(Lab[1], id);
        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xs-3"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE", 90);
        // Hold both outcomes' first destroy so the server cannot settle while the losers are answered.
        Lab[1].Faults.DelayNext("VM.destroy", TimeSpan.FromSeconds(3));
        Lab[2].Faults.DelayNext("VM.hard_shutdown", TimeSpan.FromSeconds(3));

        var results = await FireAsync(id, Enumerable.Range(0, Requests).Select(i => Moves[2 + i % 2]).ToList());

        var winners = results.Where(r => r.Response.Status is HttpStatusCode.Accepted or HttpStatusCode.NoContent).ToList();
        Assert.That(winners, Has.Count.EqualTo(1), Describe(results));
        var confirmWon = winners[0].Action == "confirmResize";
        Assert.That(winners[0].Response.Status, Is.EqualTo(confirmWon ? HttpStatusCode.NoContent : HttpStatusCode.Accepted));
        foreach (var (action, response) in results.Where(r => r != winners[0]))
        {
            // Nova: a confirm leaves the server VERIFY_RESIZE (the migration is no longer "finished": 400); a revert sets resize_reverting (409).
            if (response.Status == HttpStatusCode.BadRequest)
                Assert.That(response.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Instance has not been resized."));
            else
                AssertConflict(id, action, response, confirmWon ? "vm_state active" : "task_state resize_reverting");
        }

        await ExpectSettledAsync(id, confirmWon ? Lab[2] : Lab[1], confirmWon ? "confirmed" : "reverted", sha);
        Survived();
    }

    private async Task<List<(string Action, ApiResponse Response)>> FireAsync(string id, List<(string Action, string Body, bool AsAdmin)> moves)
    {
        using var start = new SemaphoreSlim(0);
        var tasks = moves.Select(async m =>
        {
            await start.WaitAsync();
            return (m.Action, await ActionAsync(id, m.AsAdmin ? Admin : Demo, m.Body));
        }).ToList();
        start.Release(moves.Count);
        var results = (await Task.WhenAll(tasks)).ToList();
        Interlocked.Add(ref _serverErrors, results.Count(r => (int)r.Item2.Status >= 500));
        return results;
    }

    private static void AssertConflict(string id, string action, ApiResponse response, string statePattern)
    {
        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.Conflict), $"{action}: {response.Text}");
        var message = response.Json!["conflictingRequest"]!["message"]!.GetValue<string>();
        Assert.That(message, Does.Match($"^Cannot '{action}' instance {id} while it is in {statePattern}$"));
    }

    private static string Describe(IEnumerable<(string Action, ApiResponse Response)> results) =>
        string.Join("; ", results.Select(r => $"{r.Action} {(int)r.Response.Status}"));
}
