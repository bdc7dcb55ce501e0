using System.Diagnostics;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// Logins as xapi serves them (xapi_session.ml ~260-270): the password check runs under the host's
/// authentication semaphore, sized by pool.local_auth_max_threads, and takes its time
/// (SimulatedHostOptions.LoginLatency), so a client that logs in per call is slow.
/// </summary>
[NonParallelizable]
public class LoginThrottleTests : SimulatorFixture
{
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(300);

    protected override SimulatedHostOptions CreateOptions()
    {
        var options = base.CreateOptions();
        options.LoginLatency = Latency;
        return options;
    }

    [Test]
    public async Task Logins_TakeTheLatency_AndQueueBeyondLocalAuthMaxThreads()
    {
        var pool = (string)(await Xapi.CallAsync("pool.get_all"))![0]!;
        Assert.That((long)(await Xapi.CallAsync("pool.get_local_auth_max_threads", pool))!, Is.EqualTo(8), "datamodel_pool.ml's default");
        await Xapi.CallAsync("pool.set_local_auth_max_threads", pool, 1);
        try
        {
            var serial = await TimeLoginsAsync(3);
            await Xapi.CallAsync("pool.set_local_auth_max_threads", pool, 3);
            var parallel = await TimeLoginsAsync(3);

            Assert.That(serial, Is.GreaterThanOrEqualTo(3 * Latency - TimeSpan.FromMilliseconds(30)), "one at a time");
            Assert.That(parallel, Is.LessThan(2 * Latency), "three slots, three logins at once");
        }
        finally
        {
            await Xapi.CallAsync("pool.set_local_auth_max_threads", pool, 8);
        }
    }

    [Test]
    public async Task AFailedLogin_TakesTheTimeToo()
    {
        var watch = Stopwatch.StartNew();
        var failure = await Xapi.FailureAsync("session.login_with_password", "wrong-password");

        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(Latency - TimeSpan.FromMilliseconds(30)));
        Assert.That(failure.Code, Is.EqualTo("SESSION_AUTHENTICATION_FAILED"));
    }

    private async Task<TimeSpan> TimeLoginsAsync(int count)
    {
        var watch = Stopwatch.StartNew();
        var clients = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => XapiTestClient.LoginAsync(Host)));
        var elapsed = watch.Elapsed;
        foreach (var client in clients)
        {
            await client.CallWithoutSessionAsync("session.logout", client.Session);
            client.Dispose();
        }

        return elapsed;
    }
}
