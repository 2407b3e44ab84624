using System.Security.Cryptography;
using System.Text;

namespace Lamina.Ship.Signing;

/// <summary>
/// An ECDSA P-256 key pair, the only kind cosign signs with: the private key as PKCS#8 PEM (encrypted with AES-256-CBC
/// and PBKDF2 when a password is given), the public key as PKIX PEM (what <c>cosign.pub</c> is). Signatures are ASN.1 DER
/// over SHA-256, as cosign writes and checks them (.NET's default, IEEE P1363, is not what cosign reads).
/// </summary>
public sealed class SigningKey : IDisposable
{
    /// <summary>The environment variable holding the private key's password.</summary>
    public const string PasswordVariable = "LAMINA_SIGNING_PASSWORD";

    private const int Pbkdf2Iterations = 600_000;

    private SigningKey(ECDsa key)
    {
        Key = key;
        KeyId = KeyIdOf(key);
    }

    /// <summary>The key pair (private part included).</summary>
    public ECDsa Key { get; }

    /// <summary>The sha256 of the DER public key, lowercase hex: how signatures and bundles name the key.</summary>
    public string KeyId { get; }

    /// <summary>The public key as PKIX PEM (<c>-----BEGIN PUBLIC KEY-----</c>).</summary>
    public string PublicKeyPem => Key.ExportSubjectPublicKeyInfoPem();

    /// <summary>A fresh P-256 key pair.</summary>
    public static SigningKey Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>The key id of a public key: sha256 of its DER SubjectPublicKeyInfo, lowercase hex.</summary>
    public static string KeyIdOf(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>The ASN.1 DER ECDSA-SHA256 signature of <paramref name="data"/>.</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) => Key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>True when <paramref name="signature"/> (ASN.1 DER) is <paramref name="key"/>'s signature of <paramref name="data"/>.</summary>
    public static bool Verify(ECDsa key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            return key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false; // not a DER signature at all
        }
    }

    /// <summary>
    /// Writes <c>NAME.key</c> (PKCS#8 PEM, encrypted when <paramref name="password"/> is given; mode 0600) and
    /// <c>NAME.pub</c> (PKIX PEM) into <paramref name="directory"/>; returns their paths.
    /// </summary>
    /// <exception cref="SigningException">Either file exists: a key is never overwritten.</exception>
    public (string PrivateKey, string PublicKey) WritePair(string directory, string name, string? password)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..") throw new ArgumentException($"'{name}' is not a key name (a file name without folders)", nameof(name));
        Directory.CreateDirectory(directory);
        var privatePath = Path.GetFullPath(Path.Combine(directory, $"{name}.key"));
        var publicPath = Path.GetFullPath(Path.Combine(directory, $"{name}.pub"));
        foreach (var path in (string[])[privatePath, publicPath])
        {
            if (File.Exists(path) || Directory.Exists(path)) throw SigningException.WouldOverwrite(path);
        }
        var pem = string.IsNullOrEmpty(password)
            ? Key.ExportPkcs8PrivateKeyPem()
            : Key.ExportEncryptedPkcs8PrivateKeyPem(password.AsSpan(), new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, Pbkdf2Iterations));
        // CreateNew with the mode set at creation: the private key is never readable by others, not even for a moment.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(privatePath, options))
        {
            file.Write(Encoding.ASCII.GetBytes(pem + "\n"));
        }
        try
        {
            using var file = new FileStream(publicPath, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            file.Write(Encoding.ASCII.GetBytes(PublicKeyPem + "\n"));
        }
        catch
        {
            File.Delete(privatePath); // both or neither
            throw;
        }
        return (privatePath, publicPath);
    }

    /// <summary>
    /// Reads a private key (PKCS#8 PEM, or encrypted PKCS#8 PEM whose password is <paramref name="password"/>, by default
    /// <see cref="PasswordVariable"/>).
    /// </summary>
    /// <exception cref="SigningException">No such file, not a P-256 private key, or the password is missing or wrong; naming the file.</exception>
    public static SigningKey Load(string path, string? password = null)
    {
        var text = ReadPem(path);
        password ??= Environment.GetEnvironmentVariable(PasswordVariable);
        var key = ECDsa.Create();
        try
        {
            if (text.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal))
            {
                if (string.IsNullOrEmpty(password)) throw SigningException.PasswordMissing(path);
                try
                {
                    key.ImportFromEncryptedPem(text, password);
                }
                catch (CryptographicException e)
                {
                    throw SigningException.PasswordWrong(path, e);
                }
            }
            else if (text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            {
                ImportPem(key, text, path);
            }
            else
            {
                throw SigningException.NotAKey(path, "it holds no private key (a .pub file? sign with the .key file)");
            }
            RequireP256(key, path);
            return new SigningKey(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Reads a public key (PKIX PEM, <c>cosign.pub</c>); a private key file gives its public part.</summary>
    /// <exception cref="SigningException">No such file or not a P-256 key, naming the file.</exception>
    public static ECDsa LoadPublicKey(string path)
    {
        var text = ReadPem(path);
        if (text.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
        {
            using var pair = Load(path);
            var copy = ECDsa.Create();
            copy.ImportSubjectPublicKeyInfo(pair.Key.ExportSubjectPublicKeyInfo(), out _);
            return copy;
        }
        var key = ECDsa.Create();
        try
        {
            ImportPem(key, text, path);
            RequireP256(key, path);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Reads a public key from PKIX PEM text.</summary>
    /// <exception cref="SigningException">Not a P-256 public key; <paramref name="what"/> names it.</exception>
    public static ECDsa PublicKeyFromPem(string pem, string what)
    {
        var key = ECDsa.Create();
        try
        {
            ImportPem(key, pem, what);
            RequireP256(key, what);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public void Dispose() => Key.Dispose();

    private static string ReadPem(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw SigningException.KeyMissing(Path.GetFullPath(path));
        return File.ReadAllText(path);
    }

    private static void ImportPem(ECDsa key, string text, string what)
    {
        try
        {
            key.ImportFromPem(text);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw SigningException.NotAKey(what, e.Message, e);
        }
    }

    private static void RequireP256(ECDsa key, string what)
    {
        var curve = key.ExportParameters(false).Curve;
        if (curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw SigningException.NotAKey(what, $"the curve is {curve.Oid?.FriendlyName ?? curve.Oid?.Value ?? "unnamed"}, cosign signs with P-256 only");
        }
    }
}
