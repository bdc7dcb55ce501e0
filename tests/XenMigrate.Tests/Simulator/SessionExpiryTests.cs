namespace XenMigrate.Tests.Simulator;

/// <summary>ExpireSessions ends every live session, as an xapi restart does (its own host: the fixture's session dies too).</summary>
public class SessionExpiryTests : SimulatorFixture
{
    [Test]
    public async Task ExpireSessions_MakesTheNextCallWithAnOldSessionFail_SessionInvalid()
    {
        using var other = await XapiTestClient.LoginAsync(Host);
        await Xapi.CallAsync("VM.get_all");

        Host.Faults.ExpireSessions();

        var failure = await Xapi.FailureAsync("VM.get_all");
        Assert.That((failure.Code, failure.Parameters), Is.EqualTo(("SESSION_INVALID", new[] { Xapi.Session })));
        Assert.That((await other.FailureAsync("VM.get_all")).Code, Is.EqualTo("SESSION_INVALID"));
        using var fresh = await XapiTestClient.LoginAsync(Host);
        Assert.That(await fresh.CallAsync("VM.get_all"), Is.Not.Null, "a new login works at once");
    }
}
