using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Ship.Signing;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina keys generate [--out DIR] [--name lamina]</c>: an ECDSA P-256 key pair in cosign's formats.</summary>
public sealed class KeysGenerateCommand : Command<KeysGenerateCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("The folder to write NAME.key and NAME.pub into (default: the current folder).")]
        public string Out { get; init; } = ".";

        [CommandOption("--name <NAME>")]
        [Description("The files' name (default: lamina): NAME.key (private, mode 0600) and NAME.pub (public, PKIX PEM as cosign.pub).")]
        public string Name { get; init; } = "lamina";

        public override ValidationResult Validate() =>
            Name.Length == 0 || Name.IndexOfAny(['/', '\\']) >= 0 || Name is "." or ".."
                ? ValidationResult.Error($"--name '{Name}' is not a file name (no folders: use --out for the folder)")
                : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings)
    {
        var password = Environment.GetEnvironmentVariable(SigningKey.PasswordVariable);
        var encrypted = !string.IsNullOrEmpty(password);
        using var key = SigningKey.Generate();
        var (privateKey, publicKey) = key.WritePair(settings.Out, settings.Name, password);
        // On standard error: a warning never mixes into --json.
        if (!encrypted)
        {
            Console.Error.WriteLine($"warning: the private key is not encrypted; set {SigningKey.PasswordVariable} before `lamina keys generate` to encrypt it");
        }
        if (settings.Json)
        {
            JsonOutput.Write(new { PrivateKey = privateKey, PublicKey = publicKey, key.KeyId, Encrypted = encrypted, Algorithm = "ecdsa-p256-sha256" });
            return ExitCodes.Ok;
        }
        AnsiConsole.Console.MarkupLineEscaped($"private key {privateKey} ({(encrypted ? $"encrypted with the password in {SigningKey.PasswordVariable}" : "not encrypted")}, mode 0600)");
        AnsiConsole.Console.MarkupLineEscaped($"public key  {publicKey}");
        AnsiConsole.Console.MarkupLineEscaped($"key id      {key.KeyId} (ECDSA P-256, SHA-256)");
        return ExitCodes.Ok;
    }
}
