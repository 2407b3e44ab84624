namespace Lamina.Core.Analysis;

/// <summary>The pictures of an analysis: heatmap PNGs, pyramidal TIFF overlays and a summary.</summary>
internal static class AnalysisPictures
{
    /// <returns>The files written, relative to <paramref name="directory"/>.</returns>
    public static IReadOnlyList<string> Write(AnalysisResult result, string directory) => [];
}
