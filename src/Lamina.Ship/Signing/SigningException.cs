using Lamina.Core;

namespace Lamina.Ship.Signing;

/// <summary>A key that cannot be read or written, or a signature, envelope or Sigstore bundle that does not verify; the message names the file, key or digest at fault.</summary>
public sealed class SigningException(string message, Exception? inner = null) : ShipException(message, inner)
{
    internal static SigningException KeyMissing(string path) =>
        new($"{path}: no such key file") { At = path, Kind = LaminaErrorKind.NotFound };

    internal static SigningException NotAKey(string path, string problem, Exception? inner = null) =>
        new($"{path}: not an ECDSA P-256 key in PEM (PKCS#8 PRIVATE KEY, ENCRYPTED PRIVATE KEY or PUBLIC KEY): {problem}", inner) { At = path, Kind = LaminaErrorKind.Validation };

    internal static SigningException PasswordMissing(string path) =>
        new($"{path}: the private key is encrypted: set {SigningKey.PasswordVariable} to its password") { At = path, Kind = LaminaErrorKind.Usage };

    internal static SigningException PasswordWrong(string path, Exception inner) =>
        new($"{path}: the private key cannot be decrypted with the password in {SigningKey.PasswordVariable} (wrong password?)", inner) { At = path, Kind = LaminaErrorKind.Usage };

    internal static SigningException WouldOverwrite(string path) =>
        new($"{path}: already exists; a key is never overwritten (move it away or choose another --name)") { At = path, Kind = LaminaErrorKind.Conflict };

    internal static SigningException DoesNotVerify(string what, string problem) =>
        new($"{what}: {problem}") { At = what, Kind = LaminaErrorKind.Integrity };

    internal static SigningException Malformed(string what, string problem, Exception? inner = null) =>
        new($"{what}: {problem}", inner) { At = what, Kind = LaminaErrorKind.Integrity };
}
