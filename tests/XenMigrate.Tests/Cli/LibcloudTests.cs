using XenMigrate.Infrastructure.Images;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>
/// Apache libcloud's default OpenStack driver (Debian python3-libcloud, run by /usr/bin/python3;
/// tests/conformance/libcloud) against the embedded lab: images through Nova's image proxy, a
/// node created, running with an address, rebooted and destroyed.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class LibcloudTests : EmbeddedLabCliFixture
{
    private const string Python = "/usr/bin/python3";
    private const string Libcloud = "/usr/lib/python3/dist-packages/libcloud/compute/drivers/openstack.py";

    [Test]
    public async Task DefaultDriver_ListsImages_CreatesRunsRebootsAndDestroysANode()
    {
        TestEnvironment.Require(File.Exists(Python) && File.Exists(Libcloud), "libcloud for /usr/bin/python3 (Debian python3-libcloud)");
        var account = TestUsers.Demo;
        var debian = TemplateImages.IdForName("Debian Bookworm 12").ToString();
        var (exit, lines, stdout, stderr) = await ConformanceProcess.RunAsync(Python, Path.Combine(Repository.Root, "tests", "conformance", "libcloud"),
            ["openstack_node_lifecycle.py"], new Dictionary<string, string>
            {
                // libcloud takes an auth URL with a path as the token URL itself (as for devstack's /identity).
                ["AUTH_URL"] = Gateway.BaseUrl + "/identity/v3/auth/tokens",
                ["OS_USERNAME"] = account.Name,
                ["OS_PASSWORD"] = account.Password,
                ["OS_PROJECT_NAME"] = account.Project,
                ["IMAGE_ID"] = debian,
                ["FLAVOR_ID"] = "1",
                ["NODE_NAME"] = "libcloud-node",
            }, TimeSpan.FromSeconds(300));

        Assert.That(exit, Is.Zero, $"libcloud failed:\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var images = ConformanceProcess.Step(lines, "images", stdout, stderr);
        Assert.That(images["ids"]!.AsArray().Select(i => (string?)i), Does.Contain(debian), "the templates, listed through /v2.1/images/detail");
        Assert.That((int?)ConformanceProcess.Step(lines, "size", stdout, stderr)["ram"], Is.EqualTo(512), "m1.tiny");
        ConformanceProcess.Step(lines, "created", stdout, stderr);
        var running = ConformanceProcess.Step(lines, "running", stdout, stderr);
        Assert.That((string?)running["state"], Is.EqualTo("running"));
        Assert.That(running["private_ips"]!.AsArray().Select(i => (string?)i), Has.Some.StartsWith("10."), "the guest's IPv4 address is private");
        Assert.That((bool?)ConformanceProcess.Step(lines, "rebooted", stdout, stderr)["accepted"], Is.True);
        Assert.That((string?)ConformanceProcess.Step(lines, "after_reboot", stdout, stderr)["state"], Is.EqualTo("running"));
        Assert.That((bool?)ConformanceProcess.Step(lines, "destroyed", stdout, stderr)["accepted"], Is.True);
        ConformanceProcess.Step(lines, "done", stdout, stderr);
    }
}
