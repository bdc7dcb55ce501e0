using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Simulator;

/// <summary>
/// What a freshly installed host holds besides its local SR (networks, ISO SRs, provisioning
/// templates) and the device calls a move must drive on it (vTPMs, CD insert/eject).
/// </summary>
public class HostContentsTests : SimulatorFixture
{
    [Test]
    public async Task Networks_AreTheInstallersOnes_PlusAVlan_AndTheInternalOneHasNoPif()
    {
        var networks = (await Xapi.CallAsync("network.get_all_records"))!.AsObject()
            .ToDictionary(n => (string)n.Value!["name_label"]!, n => (Ref: n.Key, Record: n.Value!));
        var pifs = (await Xapi.CallAsync("PIF.get_all_records"))!.AsObject().Select(p => p.Value!).ToList();

        var internalNetwork = networks["Host internal management network"].Record;
        Assert.That(internalNetwork["PIFs"]!.AsArray(), Is.Empty, "create_networks.ml: the host-internal network has no PIF");
        Assert.That((string?)internalNetwork["other_config"]!["is_host_internal_management_network"], Is.EqualTo("true"));

        var eth0 = networks["Pool-wide network associated with eth0"];
        Assert.That((string?)eth0.Record["bridge"], Is.EqualTo("xenbr0"));
        var managementPif = pifs.Single(p => (bool)p["management"]!);
        Assert.That((string?)managementPif["network"], Is.EqualTo(eth0.Ref));
        Assert.That((string?)managementPif["device"], Is.EqualTo("eth0"));
        Assert.That((long)managementPif["VLAN"]!, Is.EqualTo(-1));

        var vlanPif = pifs.Single(p => (long)p["VLAN"]! == 100);
        Assert.That((string?)vlanPif["device"], Is.EqualTo("eth0"), "a VLAN rides on its tagged PIF's device");
        Assert.That((string?)vlanPif["network"], Is.Not.EqualTo(eth0.Ref).And.Not.EqualTo(networks["Host internal management network"].Ref));
    }

    [Test]
    public async Task IsoSrs_TheToolsSrIsMarked_TheLibraryIsShared_TheDvdDriveIsTheHostsOwn()
    {
        var srs = (await Xapi.CallAsync("SR.get_all_records"))!.AsObject().Select(s => s.Value!).ToList();
        var isoSrs = srs.Where(s => (string?)s["content_type"] == "iso").ToDictionary(s => (string)s["name_label"]!);

        Assert.That(isoSrs.Keys, Is.SupersetOf(new[] { "XenServer Tools", "ISO library", "DVD drives" }));
        Assert.That(isoSrs.Values.Where(s => (bool)s["is_tools_sr"]!).Select(s => (string?)s["name_label"]), Is.EqualTo(new[] { "XenServer Tools" }));
        Assert.That((bool)isoSrs["ISO library"]["shared"]!, Is.True);
        Assert.That((bool)isoSrs["DVD drives"]["shared"]!, Is.False);
        Assert.That((string?)isoSrs["DVD drives"]["type"], Is.EqualTo("udev"));
        Assert.That(isoSrs["XenServer Tools"]["VDIs"]!.AsArray(), Is.Not.Empty, "the tools ISO");
    }

    [Test]
    public async Task DefaultTemplate_ProvisionsItsDisks_OnlyOnceAClientNamesTheSr()
    {
        var templates = (await Xapi.CallAsync("VM.get_all_records"))!.AsObject()
            .Where(v => (bool)v.Value!["is_a_template"]! && (bool)v.Value!["is_default_template"]!).ToList();
        Assert.That(templates, Is.Not.Empty);
        var (templateRef, template) = templates.First(t => (string?)t.Value!["name_label"] == "Debian Bookworm 12");
        var disks = (string)template!["other_config"]!["disks"]!;
        Assert.That(disks, Does.Contain("sr=\"\""), "as shipped, a template names no SR");

        // As shipped the provision XML names no SR, which xapi_templates.ml looks up by uuid: xe and
        // XenCenter rewrite it to the default SR's uuid first. So must every other client.
        var vm = (string)(await Xapi.CallAsync("VM.clone", templateRef, "provision-me"))!;
        var unnamed = await Xapi.FailureAsync("VM.provision", vm);
        Assert.That(unnamed.Code, Is.EqualTo("UUID_INVALID"));
        Assert.That(unnamed.Parameters, Is.EqualTo(new[] { "sr", "" }));

        var srUuid = (string)(await Xapi.CallAsync("SR.get_uuid", Host.SrRef))!;
        await Xapi.CallAsync("VM.remove_from_other_config", vm, "disks");
        await Xapi.CallAsync("VM.add_to_other_config", vm, "disks", disks.Replace("sr=\"\"", $"sr=\"{srUuid}\""));
        await Xapi.CallAsync("VM.provision", vm);

        var record = await Xapi.RecordAsync("VM", vm);
        Assert.That((bool)record["is_a_template"]!, Is.False);
        Assert.That(record["other_config"]!.AsObject().ContainsKey("disks"), Is.False);
        var vbd = await Xapi.RecordAsync("VBD", (string)record["VBDs"]!.AsArray().Single()!);
        var vdi = await Xapi.RecordAsync("VDI", (string)vbd["VDI"]!);
        Assert.That((string?)vbd["userdevice"], Is.EqualTo("0"));
        Assert.That((bool)vbd["bootable"]!, Is.True);
        Assert.That((string?)vdi["SR"], Is.EqualTo(Host.SrRef));
        Assert.That((long)vdi["virtual_size"]!, Is.EqualTo(10 * GiB));
        Assert.That((string?)vdi["sm_config"]!["vmhint"], Is.EqualTo((string?)record["uuid"]));
    }

    [Test]
    public async Task Vtpm_OnePerHaltedVm_ItsContentsReadAndWritten()
    {
        var (vm, _) = await Xapi.CreateVmWithDiskAsync("vtpm-vm", 256 * MiB, 8 * MiB);
        var vtpm = (string)(await Xapi.CallAsync("VTPM.create", vm, false))!;
        await Xapi.CallAsync("VTPM.set_contents", vtpm, "c2VjcmV0LXN0YXRl");

        Assert.That((string?)await Xapi.CallAsync("VTPM.get_contents", vtpm), Is.EqualTo("c2VjcmV0LXN0YXRl"));
        Assert.That((await Xapi.RecordAsync("VM", vm))["VTPMs"]!.AsArray().Select(r => (string?)r), Is.EqualTo(new[] { vtpm }));
        var second = await Xapi.FailureAsync("VTPM.create", vm, false);
        Assert.That(second.Code, Is.EqualTo("VTPM_MAX_AMOUNT_REACHED"));

        await Xapi.CallAsync("VM.start", vm, false, false);
        var whileRunning = await Xapi.FailureAsync("VTPM.destroy", vtpm);
        Assert.That(whileRunning.Code, Is.EqualTo("VM_BAD_POWER_STATE"));
        await Xapi.CallAsync("VM.hard_shutdown", vm);
        await Xapi.CallAsync("VTPM.destroy", vtpm);
        Assert.That((await Xapi.RecordAsync("VM", vm))["VTPMs"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task CdDrive_InsertAndEject_FollowXapisChecks()
    {
        var (vm, disk) = await Xapi.CreateVmWithDiskAsync("cd-vm", 256 * MiB, 8 * MiB);
        var cd = XapiTestClient.VbdRecord(vm, "OpaqueRef:NULL", "3");
        cd["type"] = "CD";
        cd["mode"] = "RO";
        cd["empty"] = true;
        cd["bootable"] = false;
        var drive = (string)(await Xapi.CallAsync("VBD.create", cd))!;
        var iso = await AnIsoAsync();

        Assert.That((await Xapi.FailureAsync("VBD.eject", drive)).Code, Is.EqualTo("VBD_IS_EMPTY"));
        await Xapi.CallAsync("VBD.insert", drive, iso);
        var inserted = await Xapi.RecordAsync("VBD", drive);
        Assert.That((bool)inserted["empty"]!, Is.False);
        Assert.That((string?)inserted["VDI"], Is.EqualTo(iso));
        Assert.That((await Xapi.FailureAsync("VBD.insert", drive, iso)).Code, Is.EqualTo("VBD_NOT_EMPTY"));

        var diskVbd = (string)(await Xapi.RecordAsync("VDI", disk))["VBDs"]![0]!;
        Assert.That((await Xapi.FailureAsync("VBD.eject", diskVbd)).Code, Is.EqualTo("VBD_NOT_REMOVABLE_MEDIA"));

        await Xapi.CallAsync("VM.start", vm, false, false);
        await Xapi.CallAsync("VM.suspend", vm);
        var suspended = await Xapi.FailureAsync("VBD.eject", drive);
        Assert.That(suspended.Code, Is.EqualTo("VM_BAD_POWER_STATE"));
        Assert.That(suspended.Parameters, Is.EqualTo(new[] { vm, "halted, running", "suspended" }));

        await Xapi.CallAsync("VM.resume", vm, false, false);
        await Xapi.CallAsync("VBD.eject", drive);
        var ejected = await Xapi.RecordAsync("VBD", drive);
        Assert.That((bool)ejected["empty"]!, Is.True);
        Assert.That((string?)ejected["VDI"], Is.EqualTo("OpaqueRef:NULL"));
    }

    private async Task<string> AnIsoAsync()
    {
        var srs = (await Xapi.CallAsync("SR.get_all_records"))!.AsObject();
        var library = srs.Single(s => (string?)s.Value!["name_label"] == "ISO library").Value!;
        return (string)library["VDIs"]!.AsArray().First()!;
    }
}
