using System.Security.Cryptography;
using System.Text;

namespace XenMigrate.Infrastructure.Identity;

/// <summary>What a token carries: who, scoped to which project, and for how long.</summary>
public sealed record TokenClaims(string UserId, string ProjectId, DateTime IssuedAt, DateTime ExpiresAt, string AuditId);

/// <summary>
/// Seals token claims with AES-256-GCM: the token is opaque to clients (encrypted) and cannot be
/// forged or altered (authenticated). Like Keystone's Fernet tokens, it holds ids only; roles are
/// looked up when it is used, so a revoked role takes effect at once.
/// </summary>
public sealed class TokenSealer(byte[] key)
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly byte[] _key = key.Length == 32 ? key : throw new ArgumentException("The token key must be 32 bytes.", nameof(key));

    public string Seal(TokenClaims claims)
    {
        var plain = Encode(claims);
        var sealedBytes = new byte[NonceSize + plain.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), [FormatVersion]);
        return Base64UrlEncode(sealedBytes);
    }

    /// <summary>The claims, or null if the token is malformed, forged or sealed with another key.</summary>
    public TokenClaims? Unseal(string token)
    {
        if (token.Length is 0 or > 1024) return null;
        var sealedBytes = Base64UrlDecode(token);
        if (sealedBytes is null || sealedBytes.Length < NonceSize + TagSize + 1) return null;
        // Only the spelling it was issued in: base64 has others for the same bytes ('+' for '-',
        // padding, unused low bits), and each would be a token of its own to the rate limiter and caches.
        if (!string.Equals(Base64UrlEncode(sealedBytes), token, StringComparison.Ordinal)) return null;

        var cipherLength = sealedBytes.Length - NonceSize - TagSize;
        var plain = new byte[cipherLength];
        try
        {
            using var aes = new AesGcm(_key, TagSize);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, cipherLength),
                sealedBytes.AsSpan(NonceSize + cipherLength), plain, [FormatVersion]);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        return Decode(plain);
    }

    private static byte[] Encode(TokenClaims c)
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write(c.IssuedAt.ToUniversalTime().Ticks);
        writer.Write(c.ExpiresAt.ToUniversalTime().Ticks);
        writer.Write(c.UserId);
        writer.Write(c.ProjectId);
        writer.Write(c.AuditId);
        writer.Flush();
        return stream.ToArray();
    }

    private static TokenClaims? Decode(byte[] plain)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(plain), Encoding.UTF8);
            var issued = new DateTime(reader.ReadInt64(), DateTimeKind.Utc);
            var expires = new DateTime(reader.ReadInt64(), DateTimeKind.Utc);
            return new TokenClaims(reader.ReadString(), reader.ReadString(), issued, expires, reader.ReadString());
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentOutOfRangeException or FormatException)
        {
            return null; // authenticated but unreadable: a token of a future format
        }
    }

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[]? Base64UrlDecode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s = (s.Length % 4) switch { 2 => s + "==", 3 => s + "=", 0 => s, _ => string.Empty };
        if (s.Length == 0) return null;
        var buffer = new byte[s.Length * 3 / 4];
        return Convert.TryFromBase64String(s, buffer, out var written) ? buffer[..written] : null;
    }

    /// <summary>Derives the 32-byte key from a configured secret of any length.</summary>
    public static byte[] KeyFromSecret(string secret) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, info: "xenmigrate-token-v1"u8.ToArray());

    public static byte[] NewRandomKey() => RandomNumberGenerator.GetBytes(32);

}
