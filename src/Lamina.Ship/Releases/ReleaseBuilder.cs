using System.Globalization;
using Lamina.Core;
using Lamina.Core.Provenance;
using Lamina.Ship.Images;
using Lamina.Tracking;

namespace Lamina.Ship.Releases;

/// <summary>What <c>lamina release CUSTOMER_DIR</c> is asked.</summary>
/// <param name="CustomerDirectory">The customer repository (a git work tree holding <c>customer.yaml</c>).</param>
public sealed record ReleaseRequest(string CustomerDirectory)
{
    /// <summary>The release version (the image tag); default: <c>git describe --tags --always</c> of the customer repository.</summary>
    public string? Version { get; init; }

    /// <summary>The base image, overriding customer.yaml's base version.</summary>
    public ImageReference? Base { get; init; }

    /// <summary>An OCI layout holding the base, tagged with customer.yaml's base version (<c>oci:DIR:VERSION</c>).</summary>
    public string? BaseLayout { get; init; }

    /// <summary>The private key that signs the image; unsigned without.</summary>
    public string? KeyPath { get; init; }

    /// <summary>Writes the image into this OCI layout folder (tag: the version) rather than the registry.</summary>
    public string? OciLayout { get; init; }

    /// <summary>Pushes the image to customer.yaml's image repository.</summary>
    public bool Push { get; init; }

    /// <summary>Releases from a work tree with uncommitted changes (the release then names no exact commit).</summary>
    public bool AllowDirty { get; init; }

    /// <summary>Where the resolved file and the bundle are made; default: a folder under the system's temporary folder.</summary>
    public string? WorkDirectory { get; init; }
}

/// <summary>A release as built and recorded.</summary>
/// <param name="AlreadyRecorded">The same version was released before as the same image: nothing new was recorded.</param>
public sealed record ReleaseResult(CustomerFile Customer, ReleaseRecord Record, bool AlreadyRecorded, string BundleDirectory, ReleaseImage Image);

/// <summary>The git state of a customer repository when released.</summary>
/// <param name="Remote">The remote (origin, else the first), credentials redacted.</param>
/// <param name="CommitTime">The HEAD commit's committer time: the release's timestamp (reproducible).</param>
/// <param name="Changed">Files with uncommitted changes (tracked or untracked), as git names them.</param>
public sealed record CustomerCommit(string Root, string Commit, DateTimeOffset CommitTime, string? Remote, IReadOnlyList<string> Changed);

/// <summary>
/// <c>lamina release</c>: from a customer repository, validates customer.yaml, resolves its analysis file by run id
/// (published models only), bundles it reproducibly, builds the image on the <c>lamina-serve</c> base, signs it, stores it
/// as <c>IMAGE:VERSION</c> and records the release (tracking store and audit trail). Nothing is recorded nor pushed when
/// an earlier step fails.
/// </summary>
public sealed class ReleaseBuilder(ITrackingStore store, IBlobStore blobs, IProductionStore production, IReleaseImaging imaging,
    IReleaseSigning? signing, TimeProvider time, string actor)
{
    /// <summary>The base image's repository in the image's registry.</summary>
    public const string BaseRepository = "lamina-serve";

    /// <exception cref="Core.Config.ConfigValidationException">customer.yaml or the analysis file is wrong (each problem at its line), or a model is not published.</exception>
    /// <exception cref="ShipException">Not a git work tree, a dirty one, no destination, no base, an image or signing failure.</exception>
    /// <exception cref="ReleaseConflictException">This version was released before as another image.</exception>
    public async Task<ReleaseResult> ReleaseAsync(ReleaseRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var customer = CustomerFile.Load(request.CustomerDirectory);
        var git = await ReadCommitAsync(customer.Directory, cancellationToken);
        if (git.Changed.Count > 0 && !request.AllowDirty)
        {
            throw new ShipException($"{customer.Directory} has uncommitted changes ({string.Join(", ", git.Changed.Take(10))}" +
                $"{(git.Changed.Count > 10 ? $", and {git.Changed.Count - 10} more" : "")}): commit them, or release with --allow-dirty")
            { At = customer.Directory, Kind = LaminaErrorKind.Conflict };
        }
        var version = request.Version ?? await GitCommand.OutputAsync(customer.Directory, ["describe", "--tags", "--always"], cancellationToken);
        ImageReference target;
        try
        {
            target = Target(customer, request, version);
        }
        catch (ImageException e)
        {
            throw new ShipException($"release version '{version}': {e.Message}", e) { At = customer.Path, Kind = LaminaErrorKind.Usage };
        }
        var baseImage = BaseOf(customer, request);
        if (request.KeyPath is { } key && !File.Exists(key)) throw new ShipException($"no signing key at {Path.GetFullPath(key)}") { At = key, Kind = LaminaErrorKind.NotFound };
        if (request.KeyPath is not null && signing is null) throw new ShipException("signing is not available in this build: release without --key") { Kind = LaminaErrorKind.Usage };

        var work = request.WorkDirectory ?? Path.Combine(Path.GetTempPath(), $"lamina-release-{customer.Customer}-{version}-{Guid.NewGuid():N}");
        var ownsWork = request.WorkDirectory is null;
        try
        {
            // Published models only: the resolver refuses any other, naming the model and its run, before anything is built.
            var resolved = await new AnalysisResolver(store, blobs, production) { RelativeTo = customer.Directory }
                .ResolveAsync(customer.Analysis, Path.Combine(work, "resolved", BundleBuilder.AnalysisFileName), cancellationToken);
            var bundle = await new BundleBuilder(production, blobs, store, new TrackingStoreAudit(store), time) { Reproducible = new(git.CommitTime), SourceRoot = customer.Directory }
                .BuildAsync(resolved.ResolvedFile, Path.Combine(work, "bundle"), replace: true, cancellationToken);

            var imageRequest = new ReleaseImageRequest(bundle.Directory, baseImage, target)
            {
                Customer = customer.Customer,
                Name = customer.Image.ToString(),
                Source = git.Remote,
                Revision = git.Commit,
                Version = version,
                Created = git.CommitTime,
                InsecureRegistries = customer.Insecure && customer.Image.Registry is { } registry ? [registry] : [],
            };
            var image = await imaging.BuildAsync(imageRequest, cancellationToken);
            var signature = request.KeyPath is { } keyPath ? await signing!.SignAsync(imageRequest, image, keyPath, cancellationToken) : null;

            var (record, already) = await store.RecordReleaseAsync(new NewRelease(customer.Customer, version, $"{customer.Image}:{version}",
                image.ImageDigest, image.BundleDigest, image.BaseReference, image.BaseDigest, git.Commit, git.Remote,
                [.. resolved.Lock.Models.Select(m => new ReleasedModel(m.Name, m.Run, m.Model, m.CardSha256))],
                signature?.KeyId, signature?.SignatureDigest, signature?.AttestationDigest, bundle.AuditAnchor?.ToString(), actor), cancellationToken);
            return new ReleaseResult(customer, record, already, bundle.Directory, image);
        }
        finally
        {
            if (ownsWork && Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Where the image goes: the layout (tagged with the version) or the customer's image repository.</summary>
    public static ImageReference Target(CustomerFile customer, ReleaseRequest request, string version)
    {
        if (request.OciLayout is { } layout)
        {
            return ImageReference.Parse($"{ImageReference.LayoutScheme}{Path.GetFullPath(layout)}:{version}", "release version");
        }
        if (!request.Push)
        {
            throw new ShipException($"say where the image of {customer.Customer} goes: --push (to {customer.Image}) or --oci-layout DIR") { At = customer.Path, Kind = LaminaErrorKind.Usage };
        }
        if (!customer.Image.IsRegistry)
        {
            throw new ShipException($"{customer.Path}: image '{customer.Image}' names no registry (HOST/REPO): --push needs one; or release into --oci-layout DIR") { At = customer.Path, Kind = LaminaErrorKind.Usage };
        }
        return ImageReference.Parse($"{customer.Image}:{version}", "release version");
    }

    /// <summary>
    /// The base image: --base (a bare <c>NAME:TAG</c> looked for in --base-layout or the image's registry), else
    /// customer.yaml's base version in --base-layout or as <c>lamina-serve</c> in the image's registry.
    /// </summary>
    public static ImageReference BaseOf(CustomerFile customer, ReleaseRequest request)
    {
        if (request.Base is { IsLayout: false, IsRegistry: false } bare)
        {
            // A bare NAME:TAG (lamina-serve:0.2) is looked for beside the image: in --base-layout, or in the image's registry.
            if (request.BaseLayout is { } baseLayout) return ImageReference.Parse($"{ImageReference.LayoutScheme}{Path.GetFullPath(baseLayout)}:{bare.Tag ?? customer.Base}", "--base-layout");
            if (customer.Image.Registry is { } imageRegistry) return bare with { Registry = imageRegistry };
            throw new ShipException($"{customer.Path}: base '{bare}' names no registry, and image '{customer.Image}' names none to look in: give HOST/{bare.Repository}:TAG, oci:DIR:TAG or --base-layout DIR")
            { At = customer.Path, Kind = LaminaErrorKind.Usage };
        }
        if (request.Base is { } given) return given;
        if (request.BaseLayout is { } layout) return ImageReference.Parse($"{ImageReference.LayoutScheme}{Path.GetFullPath(layout)}:{customer.Base}", "--base-layout");
        if (customer.Image.Registry is { } registry) return ImageReference.Parse($"{registry}/{BaseRepository}:{customer.Base}", $"{customer.Path}: base");
        throw new ShipException($"{customer.Path}: image '{customer.Image}' names no registry to take {BaseRepository}:{customer.Base} from: give --base REF or --base-layout DIR")
        { At = customer.Path, Kind = LaminaErrorKind.Usage };
    }

    /// <summary>The customer repository's HEAD, its time, its remote and its uncommitted changes.</summary>
    /// <exception cref="ShipException">Not a git work tree, or one without commits.</exception>
    public static async Task<CustomerCommit> ReadCommitAsync(string directory, CancellationToken cancellationToken)
    {
        var root = await GitCommand.ExecuteAsync(directory, ["rev-parse", "--show-toplevel"], cancellationToken);
        if (!root.Succeeded)
        {
            throw new ShipException($"{directory} is not a git work tree: a customer is a git repository (git init, commit customer.yaml and the analysis file)")
            { At = directory, Kind = LaminaErrorKind.Usage };
        }
        var head = await GitCommand.ExecuteAsync(directory, ["show", "-s", "--format=%H %cI", "HEAD"], cancellationToken);
        if (!head.Succeeded) throw new ShipException($"{root.Text} has no commit yet: commit customer.yaml and the analysis file first") { At = directory, Kind = LaminaErrorKind.Usage };
        var parts = head.Text.Split(' ', 2);
        var remotes = await GitCommand.ExecuteAsync(directory, ["remote"], cancellationToken);
        var names = remotes.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? remote = null;
        if (names.Length > 0)
        {
            var url = await GitCommand.ExecuteAsync(directory, ["remote", "get-url", names.Contains("origin") ? "origin" : names[0]], cancellationToken);
            if (url.Succeeded && url.Text.Length > 0) remote = Secrets.RedactUris(url.Text);
        }
        var status = await GitCommand.OutputAsync(directory, ["status", "--porcelain", "--untracked-files=all", "--", "."], cancellationToken);
        var changed = status.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Length > 3 ? l[3..] : l).ToList();
        return new CustomerCommit(root.Text, parts[0], DateTimeOffset.Parse(parts[1], CultureInfo.InvariantCulture), remote, changed);
    }
}
