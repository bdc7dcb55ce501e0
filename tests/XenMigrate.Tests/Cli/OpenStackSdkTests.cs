using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>
/// openstacksdk's cloud layer (Debian python3-openstacksdk, run by /usr/bin/python3;
/// tests/conformance/openstacksdk) against the embedded lab: create_server(wait=True), which
/// Ansible's openstack.cloud.server uses and which refuses a server that reaches ACTIVE without
/// addresses, then delete_server(wait=True).
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class OpenStackSdkTests : EmbeddedLabCliFixture
{
    private const string Python = "/usr/bin/python3";
    private const string Sdk = "/usr/lib/python3/dist-packages/openstack/cloud/_compute.py";

    [Test]
    public async Task CreateServerWait_SeesTheGuestsAddress_AndDeleteServerWait_RemovesIt()
    {
        TestEnvironment.Require(File.Exists(Python) && File.Exists(Sdk), "openstacksdk for /usr/bin/python3 (Debian python3-openstacksdk)");
        var account = TestUsers.Demo;
        var (exit, lines, stdout, stderr) = await ConformanceProcess.RunAsync(Python, Path.Combine(Repository.Root, "tests", "conformance", "openstacksdk"),
            ["create_server_wait.py"], new Dictionary<string, string>
            {
                ["OS_AUTH_URL"] = Gateway.BaseUrl + "/identity",
                ["OS_USERNAME"] = account.Name,
                ["OS_PASSWORD"] = account.Password,
                ["OS_PROJECT_NAME"] = account.Project,
                ["IMAGE_ID"] = TemplateImages.IdForName("Debian Bookworm 12").ToString(),
                ["FLAVOR"] = "m1.tiny",
                ["SERVER_NAME"] = "sdk-wait",
            }, TimeSpan.FromSeconds(240));

        Assert.That(exit, Is.Zero, $"openstacksdk failed:\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var created = ConformanceProcess.Step(lines, "created", stdout, stderr);
        Assert.That((string?)created["status"], Is.EqualTo("ACTIVE"));
        var addresses = created["addresses"]!.AsObject();
        Assert.That(addresses, Is.Not.Empty, "create_server(wait=True) returned: it saw addresses");
        var v4 = addresses.SelectMany(n => n.Value!.AsArray()).Single(a => (int)a!["version"]! == 4)!;
        // No Neutron and no floating IPs: the guest's address is its access address, so auto_ip asks for none.
        Assert.That((string?)created["public_v4"], Is.EqualTo((string?)v4["addr"]), "the SDK's public_v4 is the server's accessIPv4");
        Assert.That((string?)created["interface_ip"], Is.EqualTo((string?)v4["addr"]), "and the address it would ssh to");

        Assert.That((string?)ConformanceProcess.Step(lines, "fetched", stdout, stderr)["public_v4"], Is.EqualTo((string?)v4["addr"]));
        var deleted = ConformanceProcess.Step(lines, "deleted", stdout, stderr);
        Assert.That(((bool?)deleted["deleted"], (bool?)deleted["gone"]), Is.EqualTo(((bool?)true, (bool?)true)));
        ConformanceProcess.Step(lines, "done", stdout, stderr);
    }
}
