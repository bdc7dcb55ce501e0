using System.Text;
using Org.BouncyCastle.Crypto.Digests;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// Nova's <c>hostId</c>: sha224(project_id + host) in hex, so a project can tell whether two of its
/// servers share a host without learning the host's name. .NET has no SHA-224; BouncyCastle does.
/// </summary>
public static class HostIds
{
    public static string For(string projectId, string? host)
    {
        if (string.IsNullOrEmpty(host)) return string.Empty;
        var input = Encoding.UTF8.GetBytes(projectId + host);
        var digest = new Sha224Digest();
        digest.BlockUpdate(input, 0, input.Length);
        var hash = new byte[digest.GetDigestSize()];
        digest.DoFinal(hash, 0);
        return Convert.ToHexStringLower(hash);
    }
}
