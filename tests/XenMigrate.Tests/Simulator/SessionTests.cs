namespace XenMigrate.Tests.Simulator;

public class SessionTests : SimulatorFixture
{
    [Test]
    public async Task Login_ReturnsAnOpaqueRef_AndTheSessionWorks()
    {
        var session = (string)(await Xapi.CallWithoutSessionAsync("session.login_with_password", Host.Username, Host.Password, "1.1", "tests"))!;

        Assert.That(session, Does.Match("^OpaqueRef:[0-9a-f-]{36}$"));
        var record = (await Xapi.CallWithoutSessionAsync("session.get_record", session, session))!;
        Assert.That((string?)record["this_host"], Is.EqualTo(Host.HostRef));
        Assert.That((string?)record["originator"], Is.EqualTo("tests"));
    }

    [Test]
    public async Task WrongPassword_IsSessionAuthenticationFailed()
    {
        var failure = await FailAsync(() => Xapi.CallWithoutSessionAsync("session.login_with_password", Host.Username, "wrong"));

        Assert.That(failure.Code, Is.EqualTo("SESSION_AUTHENTICATION_FAILED"));
        Assert.That(failure.Parameters[0], Is.EqualTo(Host.Username));
        Assert.That(failure.Parameters, Has.None.Contains("wrong"), "the password is never echoed");
    }

    [Test]
    public async Task AfterLogout_TheSessionIsInvalid()
    {
        var session = (string)(await Xapi.CallWithoutSessionAsync("session.login_with_password", Host.Username, Host.Password))!;

        Assert.That((string?)await Xapi.CallWithoutSessionAsync("session.logout", session), Is.EqualTo(""));
        var failure = await FailAsync(() => Xapi.CallWithoutSessionAsync("VM.get_all", session));
        Assert.That(failure.Code, Is.EqualTo("SESSION_INVALID"));
        Assert.That(failure.Parameters, Is.EqualTo(new[] { session }));
    }

    [Test]
    public async Task MadeUpSession_IsSessionInvalid()
    {
        var failure = await FailAsync(() => Xapi.CallWithoutSessionAsync("host.get_all", "OpaqueRef:not-a-session"));

        Assert.That(failure.Code, Is.EqualTo("SESSION_INVALID"));
    }

    private static async Task<XapiCallException> FailAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (XapiCallException e)
        {
            return e;
        }

        Assert.Fail("The call succeeded.");
        throw new InvalidOperationException();
    }
}
