using System.Text.Json.Nodes;
using Lamina.Core.Slides.Annotations;
using NetTopologySuite.Geometries;

namespace Lamina.Core.Analysis;

/// <summary>
/// Writes an analysis's results into a folder: <c>report.json</c> (figures, timing, tiles per model, provenance),
/// <c>results.geojson</c> (regions and points, for QuPath), and the pictures.
/// </summary>
public static class AnalysisReport
{
    public const string Format = "lamina.report/1";

    public const string ReportFile = "report.json";

    public const string GeoJsonFile = "results.geojson";

    /// <summary>Writes every output; files already in the folder with the same names are replaced.</summary>
    /// <param name="extraProvenance">More provenance to record (the bundle the analysis ran from), or null.</param>
    /// <param name="slideName">How the report names the slide, when not by the path it was read from (the service's
    /// <c>s3://</c> address of a slide it fetched to a scratch folder).</param>
    /// <returns>The report as written.</returns>
    public static JsonObject Write(AnalysisResult result, string directory, JsonObject? extraProvenance = null, string? slideName = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        QuPathGeoJson.Write(Path.Combine(directory, GeoJsonFile), Annotations(result));
        var pictures = AnalysisPictures.Write(result, directory, slideName ?? result.SlidePath);
        var report = Build(result, pictures, extraProvenance, slideName ?? result.SlidePath);
        var temporary = Path.Combine(directory, $".{ReportFile}.{Guid.NewGuid():N}");
        File.WriteAllText(temporary, report.ToJsonString(LaminaJson.Indented) + "\n");
        File.Move(temporary, Path.Combine(directory, ReportFile), overwrite: true);
        return report;
    }

    private static IEnumerable<Annotation> Annotations(AnalysisResult result)
    {
        var factory = new GeometryFactory();
        foreach (var region in result.Regions)
        {
            for (var i = 0; i < region.Geometry.NumGeometries; i++)
            {
                if (region.Geometry.GetGeometryN(i) is Polygon { IsEmpty: false } polygon) yield return new Annotation(region.Classification, polygon);
            }
        }
        foreach (var point in result.Points)
        {
            yield return new Annotation(point.Classification, factory.CreatePoint(new Coordinate(point.Detection.X, point.Detection.Y)));
        }
    }

    private static JsonObject Build(AnalysisResult result, IReadOnlyList<JsonObject> pictures, JsonObject? extraProvenance, string slideName)
    {
        var features = new JsonObject();
        foreach (var feature in result.Features)
        {
            var figures = new JsonObject();
            foreach (var figure in feature.Figures) figures[figure.Name] = new JsonObject { ["value"] = Finite(figure.Value), ["unit"] = figure.Unit };
            features[feature.Name] = new JsonObject
            {
                ["cls"] = feature.Cls,
                ["models"] = new JsonObject(feature.Models.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))),
                ["figures"] = figures,
                ["seconds"] = Math.Round(feature.Seconds, 3),
            };
        }
        var models = new JsonObject();
        var modelDigests = new JsonObject();
        foreach (var model in result.Models)
        {
            var files = new JsonObject(model.Files.Select(f => KeyValuePair.Create(f.Name, (JsonNode?)f.Sha256)));
            models[model.Name] = new JsonObject
            {
                ["sourcing"] = model.Sourcing,
                ["reference"] = model.Reference,
                ["package"] = model.Package,
                ["training_run"] = model.TrainingRun?.ToString(),
                ["tiles_seen"] = model.TilesSeen,
                ["inference_seconds"] = Math.Round(model.InferenceSeconds, 3),
            };
            modelDigests[model.Name] = files;
        }
        var provenance = new JsonObject
        {
            ["slide_sha256"] = result.SlideSha256,
            ["analysis_file"] = result.AnalysisFile,
            ["analysis_file_sha256"] = result.AnalysisFileSha256,
            ["models"] = modelDigests,
            ["lamina_version"] = result.LaminaVersion,
            ["execution_provider"] = result.ExecutionProvider,
            ["device"] = result.Device,
        };
        if (extraProvenance is not null)
        {
            foreach (var (key, value) in extraProvenance) provenance[key] = value?.DeepClone();
        }
        return new JsonObject
        {
            ["format"] = Format,
            ["analysis"] = result.Analysis,
            ["slide"] = new JsonObject
            {
                ["path"] = slideName,
                ["sha256"] = result.SlideSha256,
                ["width"] = result.SlideWidth,
                ["height"] = result.SlideHeight,
                ["mpp"] = result.MicronsPerPixel,
                ["mpp_source"] = result.InputChecks?.MicronsPerPixelSource,
                ["mpp_recorded"] = result.InputChecks?.RecordedMicronsPerPixel,
                ["tissue_fraction"] = Math.Round(result.TissueFraction, 6),
            },
            ["input_checks"] = InputChecksJson(result.InputChecks),
            ["features"] = features,
            ["models"] = models,
            ["outputs"] = new JsonObject
            {
                ["geojson"] = GeoJsonFile,
                ["regions"] = result.Regions.Sum(r => r.Geometry.NumGeometries),
                ["points"] = result.Points.Count,
                ["pictures"] = new JsonArray([.. pictures.Select(p => (JsonNode?)p)]),
            },
            ["timing"] = new JsonObject
            {
                ["started_at"] = result.StartedAt.ToString("O"),
                ["seconds"] = Math.Round(result.Seconds, 3),
                ["tiles_per_second"] = result.Seconds > 0 ? Math.Round(result.Models.Sum(m => m.TilesSeen) / result.Seconds, 2) : 0,
                ["steps"] = result.Timings is { } t ? new JsonObject
                {
                    ["load"] = t.Load,
                    ["tissue_wait"] = t.TissueWait,
                    ["features"] = t.Features,
                    ["hash_wait"] = t.HashWait,
                } : null,
            },
            ["provenance"] = provenance,
        };
    }

    private static JsonObject? InputChecksJson(InputChecks? checks)
    {
        if (checks is null) return null;
        var appearance = checks.Appearance;
        return new JsonObject
        {
            ["appearance"] = new JsonObject
            {
                ["modality"] = appearance.Modality,
                ["median_luminance"] = appearance.MedianLuminance,
                ["dark_fraction"] = appearance.DarkFraction,
                ["stained_fraction"] = appearance.TissueFraction,
                ["stain_mean_od"] = appearance.StainMean is { } od ? new JsonArray([.. od.Select(v => (JsonNode?)v)]) : null,
            },
            ["findings"] = new JsonArray([.. checks.Findings.Select(f => (JsonNode?)new JsonObject
            {
                ["check"] = f.Check,
                ["severity"] = f.Severity.ToString().ToLowerInvariant(),
                ["model"] = f.Model,
                ["message"] = f.Message,
            })]),
            ["accepted_warnings"] = checks.AcceptedWarnings,
            ["forced"] = checks.Forced,
        };
    }

    private static JsonNode? Finite(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;
}
