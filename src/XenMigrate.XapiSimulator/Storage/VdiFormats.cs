using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Storage;

/// <summary>
/// What a VDI's bytes are stored as, as SM reports it in <c>sm_config:vdi_type</c>: a VHD
/// (<c>vhd</c>), a raw image (<c>aio</c>, SM's VDI_TYPE_RAW, libs/sm/vhdutil.py:40) or, on
/// XCP-ng 8.3, a qcow2 image (<c>vdi_type=qcow2</c> with <c>image-format=qcow2</c>, the key Xen
/// Orchestra reads and sets: @xen-orchestra/xapi/vdi.mjs:123, disks/Xapi.mjs:142). And which SRs
/// must have zeroes written into new VDIs (a VHD import then fails).
/// </summary>
internal static class VdiFormats
{
    public const string Vhd = "vhd";
    public const string Raw = "aio";
    public const string Qcow2 = "qcow2";

    public static string Of(XapiObject vdi) => vdi.Get("sm_config") is JsonObject sm && sm["vdi_type"]?.ToString() is { Length: > 0 } type ? type : Vhd;

    public static bool IsVhd(XapiObject vdi) => Of(vdi) == Vhd;

    /// <summary>
    /// An LVM SR not upgraded to LVHD (sm_config without use_vhd=true): SM's "legacy mode", whose
    /// VDIs are raw logical volumes (libs/sm/drivers/LVHDSR.py:1290 load, legacyMode).
    /// </summary>
    public static bool IsLegacyLvm(XapiObject sr) =>
        sr.GetString("type").ToLowerInvariant() is "lvm" or "lvmoiscsi" or "lvmohba" && SmConfig(sr, "use_vhd") != "true";

    /// <summary>
    /// xapi's Sm_fs_ops.must_write_zeroes_into_new_vdi (sm_fs_ops.ml:66-97): LVM-family SRs not
    /// upgraded to LVHD, or a VDI that asked for a raw volume there; EqualLogic thick; StorageLink.
    /// </summary>
    public static bool MustWriteZeroes(XapiObject vdi, XapiObject sr)
    {
        var type = sr.GetString("type").ToLowerInvariant();
        var lvmFamily = type is "lvm" or "lvmoiscsi" or "lvmohba";
        var requestedRaw = SmConfig(vdi, "type") == "raw";
        var upgraded = SmConfig(sr, "use_vhd") == "true";
        var eqlThick = type == "equal" && string.Equals(SmConfig(sr, "allocation"), "thick", StringComparison.OrdinalIgnoreCase);
        return (lvmFamily && (requestedRaw || !upgraded)) || eqlThick || type == "cslg";
    }

    /// <summary>
    /// The sm_config a new VDI gets on this SR: legacy LVM makes raw volumes (and refuses a VHD,
    /// LVHDSR.py load: "Cannot create VHD type disk in legacy mode"); file SRs make a VHD unless
    /// asked for <c>type=raw</c> (FileSR.py FileVDI.VDI_TYPE) or <c>image-format=qcow2</c>.
    /// A copy keeps its source's vdi_type where the SR can hold it.
    /// </summary>
    public static JsonObject ForNewVdi(XapiObject sr, JsonObject? requested)
    {
        var sm = requested?.DeepClone().AsObject() ?? new JsonObject();
        var asked = sm["type"]?.ToString();
        var inherited = sm["vdi_type"]?.ToString();
        string type;
        if (IsLegacyLvm(sr))
        {
            if (asked == "vhd")
                throw new XapiException("SR_BACKEND_FAILURE_78", string.Empty, "VDI Creation failed [opterr=Cannot create VHD type disk in legacy mode]", string.Empty);
            type = Raw;
        }
        else if (asked == "raw" || inherited == Raw) type = Raw;
        else if (sm["image-format"]?.ToString() == Qcow2 || inherited == Qcow2) type = Qcow2;
        else type = Vhd;

        sm["vdi_type"] = type;
        if (type == Qcow2) sm["image-format"] = Qcow2;
        else sm.Remove("image-format");
        return sm;
    }

    private static string? SmConfig(XapiObject obj, string key) => (obj.Get("sm_config") as JsonObject)?[key]?.ToString();
}
