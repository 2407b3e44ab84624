using Lamina.Core.Provenance;

namespace Lamina.Core.Inference;

/// <summary>
/// A model package folder (<c>model.json</c> and the ONNX files it names), opened with every file checked against the
/// digest its card records, so that what runs is exactly what was trained, published or bundled.
/// </summary>
public sealed class ModelPackage
{
    /// <summary>The card's file name in a package.</summary>
    public const string CardFile = "model.json";

    private ModelPackage(string directory, ModelCard card, string cardSha256)
    {
        Directory = directory;
        Card = card;
        CardSha256 = cardSha256;
    }

    /// <summary>The package folder, full path.</summary>
    public string Directory { get; }

    public ModelCard Card { get; }

    /// <summary>SHA-256 of <c>model.json</c>'s bytes.</summary>
    public string CardSha256 { get; }

    /// <summary>Full path of a file of the package.</summary>
    public string PathOf(PackageFile file) => Path.Combine(Directory, file.Name);

    /// <summary>Every file with its digest, the card first: what a report or a lock records.</summary>
    public IReadOnlyList<PackageFile> AllFiles(long cardSize) => [new PackageFile(CardFile, CardSha256, cardSize), .. Card.Files];

    /// <summary>Opens a package folder and verifies every file it names.</summary>
    /// <exception cref="InferenceException">No card, a card that cannot be read, a missing file, or a file whose digest or size differs.</exception>
    public static ModelPackage Open(string directory)
    {
        var folder = Path.GetFullPath(directory);
        var cardPath = Path.Combine(folder, CardFile);
        if (!File.Exists(cardPath))
        {
            throw InferenceException.NotAPackage(folder, System.IO.Directory.Exists(folder), CardFile);
        }
        var bytes = File.ReadAllBytes(cardPath);
        var card = ModelCard.Parse(bytes, cardPath);
        foreach (var file in card.Files)
        {
            var path = Path.Combine(folder, file.Name);
            if (!File.Exists(path))
            {
                throw InferenceException.PackageFileMissing(path, cardPath, file.Sha256);
            }
            var (digest, size) = Sha256Digest.OfFile(path);
            if (digest.Hex != file.Sha256 || size != file.Size)
            {
                throw InferenceException.PackageFileAltered(path, digest.Hex, size, cardPath, file.Sha256, file.Size);
            }
        }
        return new ModelPackage(folder, card, Sha256Digest.Of(bytes).Hex);
    }
}
