using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace XenMigrate.Infrastructure.KeyPairs;

/// <summary>
/// Nova's nova/crypto.py for key pairs: the fingerprint of an imported key (MD5 of an OpenSSH
/// key's blob; SHA-1 of an x509 certificate's DER), and a generated RSA-2048 pair (the private key
/// in PEM, the public one as an OpenSSH line) for a create without a public key.
/// </summary>
public static class PublicKeys
{
    /// <summary>The fingerprint Nova shows ("aa:bb:…"); null when the text is no key of that type.</summary>
    public static string? Fingerprint(string type, string publicKey) =>
        type == Domain.KeyPairs.KeyPair.X509 ? X509Fingerprint(publicKey) : SshFingerprint(publicKey);

    /// <summary>An RSA-2048 key: the private key in PEM (what Nova returns once) and its OpenSSH public line.</summary>
    public static (string PrivateKeyPem, string PublicKey) Generate()
    {
        using var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(includePrivateParameters: false);
        var blob = new List<byte>();
        Append(blob, "ssh-rsa"u8);
        Append(blob, Mpint(parameters.Exponent!));
        Append(blob, Mpint(parameters.Modulus!));
        return (rsa.ExportRSAPrivateKeyPem() + "\n", $"ssh-rsa {Convert.ToBase64String(blob.ToArray())} Generated-by-Nova");
    }

    /// <summary>
    /// Nova's generate_winrm_x509_cert: a self-signed RSA-2048 certificate for the user (CN, client
    /// authentication), ten years; the private key and the certificate, both in PEM.
    /// </summary>
    public static (string PrivateKeyPem, string CertificatePem) GenerateX509(string userId)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + userId), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-1), now.AddYears(10));
        return (rsa.ExportPkcs8PrivateKeyPem() + "\n", certificate.ExportCertificatePem() + "\n");
    }

    private static string? SshFingerprint(string publicKey)
    {
        // "type base64 [comment]": the blob must decode and name the same key type it is filed under.
        var parts = publicKey.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2) return null;
        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[1]);
        }
        catch (FormatException)
        {
            return null;
        }

        if (blob.Length < 4) return null;
        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (length > blob.Length - 4 || Encoding.ASCII.GetString(blob, 4, (int)length) != parts[0]) return null;
#pragma warning disable CA5351 // not for security: the OpenSSH (and Nova) key fingerprint is defined as MD5
        return Colons(MD5.HashData(blob));
#pragma warning restore CA5351
    }

    private static string? X509Fingerprint(string pem)
    {
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(pem);
#pragma warning disable CA5350 // not for security: Nova's x509 key pair fingerprint is SHA-1 of the DER
            return Colons(SHA1.HashData(certificate.RawData));
#pragma warning restore CA5350
        }
        catch (CryptographicException)
        {
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static string Colons(byte[] hash) => string.Join(':', hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>An SSH mpint: big-endian, with a leading zero when the top bit is set.</summary>
    private static byte[] Mpint(byte[] unsigned) => (unsigned[0] & 0x80) != 0 ? [0, .. unsigned] : unsigned;

    private static void Append(List<byte> blob, ReadOnlySpan<byte> field)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)field.Length);
        blob.AddRange(length.ToArray());
        blob.AddRange(field.ToArray());
    }
}
