using System.Globalization;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;

namespace Lamina.Ship.Signing;

/// <summary>What the provenance of a customer image records (<see cref="ImageProvenance.Build"/>).</summary>
/// <param name="Subject">The image's name: <c>HOST/REPO</c> for a registry, else the repository.</param>
/// <param name="ManifestDigest">The image manifest's digest, <c>sha256:HEX</c>.</param>
/// <param name="Customer">The customer's name (customer.yaml).</param>
/// <param name="CustomerRepository">The customer's git repository (its remote, credentials removed, or its folder).</param>
/// <param name="CustomerCommit">The commit of the customer repository the image was built from.</param>
/// <param name="Version">The image's version (its tag).</param>
/// <param name="BaseReference">The base image as it was named (<c>registry/lamina-serve:1.2</c>, <c>oci:DIR:TAG</c>).</param>
/// <param name="BaseDigest">The base image's manifest digest, <c>sha256:HEX</c>.</param>
/// <param name="BundleProvenanceSha256">sha256 of the bundle's provenance.json (hex, or <c>sha256:HEX</c>): the bundle's digest.</param>
/// <param name="BundleProvenance">The bundle's provenance statement, whose resolved dependencies (models, runs, commits, data sets, plug-ins) are copied; null copies none.</param>
/// <param name="BuiltOn">When the image was built; null leaves the time out (the statement then depends on its inputs only).</param>
public sealed record ImageProvenanceInput(
    string Subject,
    string ManifestDigest,
    string Customer,
    string? CustomerRepository,
    string? CustomerCommit,
    string Version,
    string BaseReference,
    string BaseDigest,
    string BundleProvenanceSha256,
    JsonNode? BundleProvenance,
    DateTimeOffset? BuiltOn = null);

/// <summary>
/// The provenance of a customer image: an in-toto Statement v1 whose subject is the image manifest and whose predicate
/// is SLSA Provenance v1 (which base, which bundle, and through the bundle which models, runs and commits).
/// </summary>
public static class ImageProvenance
{
    public const string PredicateType = BundleProvenance.PredicateType;

    /// <summary>The SLSA build type of a Lamina customer image.</summary>
    public const string BuildType = "https://lamina.dev/image/v1";

    /// <summary>The resolved dependency that is the bundle (its digest: provenance.json's sha256).</summary>
    public const string BundleDependencyName = "bundle/provenance.json";

    /// <summary>The resolved dependency that is the base image.</summary>
    public const string BaseDependencyName = "base-image";

    /// <summary>The image label (config) holding the bundle's digest, compared with the provenance when present.</summary>
    public const string BundleDigestLabel = "dev.lamina.bundle.digest";

    public static JsonObject Build(ImageProvenanceInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var dependencies = new JsonArray
        {
            new JsonObject
            {
                ["name"] = BaseDependencyName,
                ["uri"] = input.BaseReference,
                ["digest"] = new JsonObject { ["sha256"] = OciDigest.Hex(input.BaseDigest) },
            },
            new JsonObject
            {
                ["name"] = BundleDependencyName,
                ["uri"] = "lamina:bundle/provenance.json",
                ["digest"] = new JsonObject { ["sha256"] = HexOf(input.BundleProvenanceSha256, nameof(input.BundleProvenanceSha256)) },
            },
        };
        if (input.BundleProvenance?["predicate"]?["buildDefinition"]?["resolvedDependencies"] is JsonArray copied)
        {
            foreach (var dependency in copied) dependencies.Add(dependency?.DeepClone());
        }
        var metadata = new JsonObject();
        if (input.BuiltOn is { } builtOn)
        {
            metadata["finishedOn"] = builtOn.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        }
        return new JsonObject
        {
            ["_type"] = BundleProvenance.StatementType,
            ["subject"] = new JsonArray(new JsonObject
            {
                ["name"] = input.Subject,
                ["digest"] = new JsonObject { ["sha256"] = OciDigest.Hex(input.ManifestDigest) },
            }),
            ["predicateType"] = PredicateType,
            ["predicate"] = new JsonObject
            {
                ["buildDefinition"] = new JsonObject
                {
                    ["buildType"] = BuildType,
                    ["externalParameters"] = new JsonObject
                    {
                        ["customer"] = input.Customer,
                        ["customer_repository"] = input.CustomerRepository,
                        ["customer_commit"] = input.CustomerCommit,
                        ["version"] = input.Version,
                        ["base"] = input.BaseReference,
                    },
                    ["resolvedDependencies"] = dependencies,
                },
                ["runDetails"] = new JsonObject
                {
                    ["builder"] = new JsonObject
                    {
                        ["id"] = BundleProvenance.BuilderId,
                        ["version"] = new JsonObject { ["lamina"] = Core.Analysis.AnalysisEngine.Version },
                    },
                    ["metadata"] = metadata,
                },
            },
        };
    }

    /// <summary>The sha256 digests (hex) of a statement's subjects.</summary>
    public static IReadOnlyList<string> SubjectDigests(JsonNode statement) =>
        [.. (statement?["subject"] as JsonArray ?? []).Select(s => s?["digest"]?["sha256"]?.GetValue<string>()).OfType<string>()];

    /// <summary>The bundle's digest (hex) a statement records, or null.</summary>
    public static string? BundleDigestOf(JsonNode statement) =>
        (statement?["predicate"]?["buildDefinition"]?["resolvedDependencies"] as JsonArray ?? [])
            .FirstOrDefault(d => d?["name"]?.GetValue<string>() == BundleDependencyName)?["digest"]?["sha256"]?.GetValue<string>();

    /// <summary>The hex of a <c>sha256:HEX</c> or bare hex digest.</summary>
    internal static string HexOf(string digest, string what)
    {
        var hex = digest.StartsWith(OciDigest.Prefix, StringComparison.Ordinal) ? digest[OciDigest.Prefix.Length..] : digest;
        return OciDigest.IsValid(OciDigest.FromHex(hex)) ? hex : throw new ArgumentException($"{what}: '{digest}' is not a sha256 digest", what);
    }
}
