using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Ship.Images;
using Lamina.Ship.Signing;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina verify-image REF --key PUB</c>: offline, the manifest, config and every layer against their digests, the
/// cosign signature and the signed provenance; prints every check and exits non-zero naming what fails.
/// </summary>
public sealed class VerifyImageCommand : AsyncCommand<VerifyImageCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<IMAGE>")]
        [Description("The image: HOST[[:PORT]]/REPO[[:TAG]][[@sha256:...]] or oci:DIR[[:TAG]].")]
        public string Image { get; init; } = "";

        [CommandOption("--key <PUB>")]
        [Description("The public key (PKIX PEM, as `lamina keys generate` or cosign write it) the signatures must verify with.")]
        public string? Key { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Key) ? ValidationResult.Error("--key is required: the public key file (NAME.pub) the image must be signed with") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var image = ImageReference.Parse(settings.Image, "<IMAGE>");
        using var key = SigningKey.LoadPublicKey(settings.Key!);
        var verification = await new ImageVerifier(ImageStores.Open).VerifyAsync(image, key, CliContext.Cancellation);
        var failure = verification.Failures.FirstOrDefault();
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                error = failure is null ? null : new { code = "integrity", message = $"{image}: {failure.Name}: {failure.Detail}", at = failure.Name },
                image = image.ToString(),
                manifest_digest = verification.ManifestDigest,
                key_id = verification.KeyId,
                ok = verification.Ok,
                checks = verification.Checks.Select(c => new { c.Name, c.Ok, c.Detail }),
            });
        }
        else
        {
            foreach (var check in verification.Checks)
            {
                var mark = check.Ok ? "[green]ok  [/]" : "[red]FAIL[/]";
                AnsiConsole.Console.MarkupLine($"{mark} {Markup.Escape(check.Name),-12} {Markup.Escape(check.Detail)}");
            }
        }
        if (failure is not null)
        {
            var count = verification.Failures.Count();
            Console.Error.WriteLine($"error: {image}: {failure.Name}: {failure.Detail}" + (count > 1 ? $" (and {count - 1} more failed check(s))" : ""));
            return ExitCodes.Integrity;
        }
        if (!settings.Json)
        {
            AnsiConsole.Console.MarkupLineEscaped($"verified {image} ({verification.ManifestDigest}) with key {verification.KeyId}");
        }
        return ExitCodes.Ok;
    }
}
