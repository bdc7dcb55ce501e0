using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>os-keypairs as Nova answers it: import, generate, list, show, delete, per user, by microversion.</summary>
public class KeyPairsTests : GatewayFixture
{
    // ssh-keygen -t ed25519; fingerprint from ssh-keygen -l -E md5 (an independent implementation).
    private const string Ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlBcazqSEQGKDDicm5Uc8OM0x2cbObZ9bN0LaM7FNXK demo@lab";
    private const string Ed25519Md5 = "5c:f6:b8:76:a3:a0:5b:cd:09:5e:35:9f:35:ea:c7:79";

    private Task<ApiResponse> Post(string token, string body, string? microversion = "2.10") =>
        Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/os-keypairs", token, body, microversion);

    private static string Message(ApiResponse r) => r.Json!.AsObject().First().Value!["message"]!.GetValue<string>();

    [Test]
    public async Task Import_ListShowDelete_AsNovaShowsThem()
    {
        var created = await Post(DemoToken, $$$"""{"keypair":{"name":"kp-import","public_key":"{{{Ed25519}}}"}}""");
        Assert.That(created.Status, Is.EqualTo(HttpStatusCode.Created), created.Text);
        var pair = created.Json!["keypair"]!;
        Assert.That((pair["name"]!.GetValue<string>(), pair["fingerprint"]!.GetValue<string>(), pair["type"]!.GetValue<string>()),
            Is.EqualTo(("kp-import", Ed25519Md5, "ssh")));
        Assert.That(pair["private_key"], Is.Null, "an imported key has no private part to give");

        var list = await Gateway.GetAsync("/v2.1/os-keypairs", DemoToken, "2.10");
        Assert.That(list.Json!["keypairs"]!.AsArray().Select(k => k!["keypair"]!["name"]!.GetValue<string>()), Does.Contain("kp-import"));
        var show = await Gateway.GetAsync("/v2.1/os-keypairs/kp-import", DemoToken, "2.10");
        Assert.That(show.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(show.Json!["keypair"]!.AsObject().Select(p => p.Key), Is.SupersetOf(new[] { "id", "deleted", "created_at", "user_id", "public_key" }));
        Assert.That(show.Json!["keypair"]!["public_key"]!.GetValue<string>(), Is.EqualTo(Ed25519));

        var twice = await Post(DemoToken, $$$"""{"keypair":{"name":"kp-import","public_key":"{{{Ed25519}}}"}}""");
        Assert.That((twice.Status, Message(twice)), Is.EqualTo((HttpStatusCode.Conflict, "Key pair 'kp-import' already exists.")));
        // Another user's namespace is their own, and they cannot see demo's.
        var other = Tokens[TestUsers.Other];
        Assert.That((await Post(other, $$$"""{"keypair":{"name":"kp-import","public_key":"{{{Ed25519}}}"}}""")).Status, Is.EqualTo(HttpStatusCode.Created));
        var hidden = await Gateway.GetAsync("/v2.1/os-keypairs/kp-import?user_id=nobody", other, "2.10");
        Assert.That(hidden.Status, Is.EqualTo(HttpStatusCode.Forbidden), "only admins name another user");

        var deleted = await Gateway.SendJsonAsync(HttpMethod.Delete, "/v2.1/os-keypairs/kp-import", DemoToken, null, "2.10");
        Assert.That(deleted.Status, Is.EqualTo(HttpStatusCode.NoContent));
        var gone = await Gateway.GetAsync("/v2.1/os-keypairs/kp-import", DemoToken, "2.10");
        Assert.That(gone.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Message(gone), Does.StartWith("Keypair kp-import not found for user "));
        Assert.That((await Gateway.GetAsync("/v2.1/os-keypairs/kp-import", other, "2.10")).Status, Is.EqualTo(HttpStatusCode.OK), "the other user's pair stays");
    }

    [Test]
    public async Task Generate_ReturnsAPrivateKeyOnce_ThatSshKeygenReadsBack_AndNotFrom292()
    {
        var created = await Post(DemoToken, """{"keypair":{"name":"kp-gen"}}""");
        Assert.That(created.Status, Is.EqualTo(HttpStatusCode.Created), created.Text);
        var privateKey = created.Json!["keypair"]!["private_key"]!.GetValue<string>();
        var publicKey = created.Json!["keypair"]!["public_key"]!.GetValue<string>();
        Assert.That(publicKey, Does.StartWith("ssh-rsa "));

        if (TestEnvironment.FindOnPath("ssh-keygen") is { } keygen)
        {
            // ssh-keygen derives the public key from the private one: both halves belong together.
            var file = Path.Combine(Path.GetTempPath(), $"xenmigrate-kp-{Guid.NewGuid():N}");
            await File.WriteAllTextAsync(file, privateKey);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite); // ssh-keygen refuses a readable key
            try
            {
                var start = new ProcessStartInfo(keygen, ["-y", "-f", file]) { RedirectStandardOutput = true, RedirectStandardError = true };
                using var process = Process.Start(start)!;
                var derived = await process.StandardOutput.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.That(derived.Trim().Split(' ')[..2], Is.EqualTo(publicKey.Split(' ')[..2]));
            }
            finally
            {
                File.Delete(file);
            }
        }

        var shown = await Gateway.GetAsync("/v2.1/os-keypairs/kp-gen", DemoToken, "2.10");
        Assert.That(shown.Json!["keypair"]!["private_key"], Is.Null, "the private key is never shown again");

        var x509 = await Post(DemoToken, """{"keypair":{"name":"kp-x509","type":"x509"}}""");
        Assert.That(x509.Status, Is.EqualTo(HttpStatusCode.Created), x509.Text);
        Assert.That(x509.Json!["keypair"]!["public_key"]!.GetValue<string>(), Does.StartWith("-----BEGIN CERTIFICATE-----"));
        Assert.That(x509.Json!["keypair"]!["fingerprint"]!.GetValue<string>(), Does.Match("^([0-9a-f]{2}:){19}[0-9a-f]{2}$"), "SHA-1 of the DER");

        var noKey = await Post(DemoToken, """{"keypair":{"name":"kp-292"}}""", "2.92");
        Assert.That((noKey.Status, Message(noKey)), Is.EqualTo((HttpStatusCode.BadRequest,
            "Invalid input for field/attribute keypair. Value: {'name': 'kp-292'}. 'public_key' is a required property")));
    }

    [Test]
    public async Task BadKeypairs_Are400_InNovasWords_AndMicroversionsShapeTheAnswer()
    {
        var bad = await Post(DemoToken, """{"keypair":{"name":"kp-bad","public_key":"ssh-rsa not-base64!"}}""");
        Assert.That((bad.Status, Message(bad)), Is.EqualTo((HttpStatusCode.BadRequest, "Keypair data is invalid: failed to generate fingerprint")));
        var unsafeName = await Post(DemoToken, $$$"""{"keypair":{"name":"kp@bad","public_key":"{{{Ed25519}}}"}}""");
        Assert.That((unsafeName.Status, Message(unsafeName)), Is.EqualTo((HttpStatusCode.BadRequest, "Keypair data is invalid: Keypair name contains unsafe characters")));
        Assert.That((await Post(DemoToken, $$$"""{"keypair":{"name":"kp@ok.92","public_key":"{{{Ed25519}}}"}}""", "2.92")).Status, Is.EqualTo(HttpStatusCode.Created),
            "2.92 allows @ and .");
        var type = await Post(DemoToken, $$$"""{"keypair":{"name":"kp-t","public_key":"{{{Ed25519}}}","type":"pgp"}}""");
        Assert.That(Message(type), Is.EqualTo("Invalid input for field/attribute type. Value: pgp. 'pgp' is not one of ['ssh', 'x509']"));
        var typeAt21 = await Post(DemoToken, $$$"""{"keypair":{"name":"kp-t","public_key":"{{{Ed25519}}}","type":"ssh"}}""", "2.1");
        Assert.That(Message(typeAt21), Does.EndWith("Additional properties are not allowed ('type' was unexpected)"), "type arrives in 2.2");

        var at21 = await Post(DemoToken, $$$"""{"keypair":{"name":"kp-21","public_key":"{{{Ed25519}}}"}}""", "2.1");
        Assert.That(at21.Status, Is.EqualTo(HttpStatusCode.OK), "200 before 2.2");
        Assert.That(at21.Json!["keypair"]!["type"], Is.Null);
        var delete21 = await Gateway.SendJsonAsync(HttpMethod.Delete, "/v2.1/os-keypairs/kp-21", DemoToken, null, "2.1");
        Assert.That(delete21.Status, Is.EqualTo(HttpStatusCode.Accepted), "202 before 2.2");

        for (var i = 0; i < 3; i++) await Post(DemoToken, $$$"""{"keypair":{"name":"kp-page-{{{i}}}","public_key":"{{{Ed25519}}}"}}""");
        var page = await Gateway.GetAsync("/v2.1/os-keypairs?limit=2&marker=kp-page-0", DemoToken, "2.35");
        Assert.That(page.Json!["keypairs"]!.AsArray().Select(k => k!["keypair"]!["name"]!.GetValue<string>()), Is.EqualTo(new[] { "kp-page-1", "kp-page-2" }));
        Assert.That(page.Json!["keypairs_links"], Is.Not.Null);
        var marker = await Gateway.GetAsync("/v2.1/os-keypairs?marker=nope", DemoToken, "2.35");
        Assert.That((marker.Status, Message(marker)), Is.EqualTo((HttpStatusCode.BadRequest, "Marker nope could not be found.")));
    }

    [Test]
    public async Task Admin_ManagesAnotherUsersKeypairs_From210()
    {
        var mine = await Post(DemoToken, """{"keypair":{"name":"kp-mine"}}""");
        var demoId = mine.Json!["keypair"]!["user_id"]!.GetValue<string>();
        var forDemo = await Post(AdminToken, $$$"""{"keypair":{"name":"kp-by-admin","public_key":"{{{Ed25519}}}","user_id":"{{{demoId}}}"}}""");
        Assert.That(forDemo.Status, Is.EqualTo(HttpStatusCode.Created), forDemo.Text);
        var list = await Gateway.GetAsync($"/v2.1/os-keypairs?user_id={demoId}", AdminToken, "2.10");
        Assert.That(list.Json!["keypairs"]!.AsArray().Select(k => k!["keypair"]!["name"]!.GetValue<string>()), Is.SupersetOf(new[] { "kp-mine", "kp-by-admin" }));
        var byMember = await Post(Tokens[TestUsers.Other], $$$"""{"keypair":{"name":"kp-x","public_key":"{{{Ed25519}}}","user_id":"{{{demoId}}}"}}""");
        Assert.That((byMember.Status, Message(byMember)), Is.EqualTo((HttpStatusCode.Forbidden, "Policy doesn't allow os_compute_api:os-keypairs:create to be performed.")));
    }
}
