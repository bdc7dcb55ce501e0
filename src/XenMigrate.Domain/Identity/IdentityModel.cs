namespace XenMigrate.Domain.Identity;

/// <summary>Keystone's three default roles, by name.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Member = "member";
    public const string Reader = "reader";

    public static readonly IReadOnlyList<string> All = [Admin, Member, Reader];
}

/// <summary>A Keystone domain; XenMigrate has just Keystone's "default" one.</summary>
public static class Domains
{
    public const string DefaultId = "default";
    public const string DefaultName = "Default";
}

/// <summary>A Keystone project (tenant): servers belong to one.</summary>
public sealed class Project
{
    private Project()
    {
        Id = string.Empty;
        Name = string.Empty;
        DomainId = Domains.DefaultId;
    }

    public Project(string id, string name)
    {
        Id = id;
        Name = name;
        DomainId = Domains.DefaultId;
    }

    /// <summary>Keystone-style id: 32 lowercase hex digits.</summary>
    public string Id { get; private set; }

    public string Name { get; private set; }
    public string DomainId { get; private set; }
}

/// <summary>A Keystone user. Only the password's hash is kept.</summary>
public sealed class User
{
    private User()
    {
        Id = string.Empty;
        Name = string.Empty;
        DomainId = Domains.DefaultId;
        PasswordHash = string.Empty;
    }

    public User(string id, string name, string passwordHash)
    {
        Id = id;
        Name = name;
        DomainId = Domains.DefaultId;
        PasswordHash = passwordHash;
    }

    public string Id { get; private set; }
    public string Name { get; private set; }
    public string DomainId { get; private set; }
    public string PasswordHash { get; private set; }

    public void ChangePasswordHash(string passwordHash) => PasswordHash = passwordHash;
}

/// <summary>A user holds a role on a project.</summary>
public sealed class RoleAssignment
{
    private RoleAssignment()
    {
        UserId = string.Empty;
        ProjectId = string.Empty;
        Role = string.Empty;
    }

    public RoleAssignment(string userId, string projectId, string role)
    {
        if (!Roles.All.Contains(role)) throw new ArgumentException($"Unknown role '{role}'.", nameof(role));
        UserId = userId;
        ProjectId = projectId;
        Role = role;
    }

    public string UserId { get; private set; }
    public string ProjectId { get; private set; }
    public string Role { get; private set; }
}
