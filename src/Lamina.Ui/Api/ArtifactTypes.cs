namespace Lamina.Ui.Api;

/// <summary>How a run page previews an artifact.</summary>
internal enum ArtifactPreview
{
    None,
    Image,
    Json,
    Text,
}

/// <summary>Content types by file name: raster images and plain text may be shown inline; anything else is only downloaded.</summary>
internal static class ArtifactTypes
{
    public static ArtifactPreview PreviewOf(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".png" or ".jpg" or ".jpeg" or ".gif" or ".webp" => ArtifactPreview.Image,
        ".json" or ".geojson" => ArtifactPreview.Json,
        ".txt" or ".log" or ".csv" or ".tsv" or ".yaml" or ".yml" or ".md" => ArtifactPreview.Text,
        _ => ArtifactPreview.None,
    };

    /// <summary>
    /// The type an inline response may carry: never HTML, SVG or script, which would run as this site's pages
    /// (an artifact is whatever a run wrote); null when the artifact may only be downloaded.
    /// </summary>
    public static string? InlineContentType(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".json" or ".geojson" => "application/json",
        ".txt" or ".log" or ".csv" or ".tsv" or ".yaml" or ".yml" or ".md" => "text/plain; charset=utf-8",
        _ => null,
    };
}
