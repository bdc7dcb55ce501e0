namespace XenMigrate.Infrastructure.Inventory;

/// <summary>The other_config keys XenMigrate keeps on a VM, so its identity travels with it.</summary>
public static class InventoryKeys
{
    /// <summary>The Nova server id; survives the VM being re-created on another host.</summary>
    public const string ServerId = "xenmigrate_server_id";

    /// <summary>The owning project (name or id); absent means the host's default project.</summary>
    public const string Project = "xenmigrate_project";

    /// <summary>The owning user (name or id); absent means a member of the project.</summary>
    public const string User = "xenmigrate_user";
}
