namespace XenMigrate.Domain.KeyPairs;

/// <summary>
/// A Nova key pair: a user's named public key (ssh or x509, Nova's keypair types), which a server
/// booted with its name carries (<c>key_name</c>). Names are unique per user.
/// </summary>
public sealed class KeyPair
{
    public const string Ssh = "ssh";
    public const string X509 = "x509";

    private KeyPair()
    {
        UserId = Name = Type = PublicKey = Fingerprint = string.Empty;
    }

    public KeyPair(string userId, string name, string type, string publicKey, string fingerprint, DateTime now)
    {
        UserId = userId;
        Name = name;
        Type = type;
        PublicKey = publicKey;
        Fingerprint = fingerprint;
        CreatedAt = now;
    }

    /// <summary>Nova's keypair id (an integer, shown from the show call).</summary>
    public int Id { get; private set; }

    public string UserId { get; private set; }
    public string Name { get; private set; }
    public string Type { get; private set; }
    public string PublicKey { get; private set; }
    public string Fingerprint { get; private set; }
    public DateTime CreatedAt { get; private set; }
}
