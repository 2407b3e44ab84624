using Lamina.Lab.Datasets;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Datasets;

public sealed class ThreeClassExperimentTests(ThreeClassSlidesFixture slides) : IClassFixture<ThreeClassSlidesFixture>
{
    [Fact]
    public async Task ThreeClassExperiment_FromAManifestWithPatientsAndAnMppOverride_SplitsByPatient_AndTrainsAThreeClassModel()
    {
        // Given an experiment whose loader reads a slides manifest: slides 0 and 1 are patient A's, slide 2 patient B's and
        // scanned at 0.3 µm per pixel whatever its file says; three classes, no 'other'
        using var temp = new TemporaryDirectory();
        var data = Path.Combine(slides.Root, "data");
        File.WriteAllText(temp.Combine("slides.csv"), $"""
            slide,annotations,mpp,group
            {data}/slide-0.tif,{data}/slide-0.geojson,,patient-A
            {data}/slide-1.tif,{data}/slide-1.geojson,,patient-A
            {data}/slide-2.tif,{data}/slide-2.geojson,0.3,patient-B
            """);
        File.WriteAllText(temp.Combine("lamina.yaml"), """
            version: 1
            project:
              project_name: ThreeClasses
            models:
              tissue:
                architecture: {cls: LinearHead}
                loss: {cls: CrossEntropy}
                metrics: [{cls: accuracy}, {cls: balanced_accuracy}, {cls: f1}, {cls: auroc}]
            data:
              loaders:
                tissue_tiles:
                  cls: DiskLoader
                  params: {manifest: slides.csv, tile_size: 224, mpp: 0.5, min_tissue: 0.2, classes: [Tumour, Necrosis, Stroma], include_other: false}
            tasks:
              tiles:
                type: dataset
                params: {loader: tissue_tiles, validation_split: 0.5}
              train:
                type: training
                params: {model: tissue, n_epochs: 3, batch_size: 8, train_loader: tissue_tiles, validation_split: 0.5, callbacks: [{cls: MetricsLogger}]}
            """);
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var runner = new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = TextWriter.Null };

        // When the data set is built with several seeds
        var splits = new HashSet<string>();
        for (var seed = 0; seed < 6; seed++)
        {
            var outcome = await runner.RunAsync(new RunRequest(temp.Combine("lamina.yaml"), "tiles", [$"tasks.tiles.params.seed={seed}"]), CancellationToken.None);
            Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
            var record = (await store.ListDatasetsAsync(CancellationToken.None)).Single(d => d.RunId == outcome.RunId);
            await using var stream = await blobs.OpenAsync(record.Id, CancellationToken.None);
            using var bytes = new MemoryStream();
            await stream.CopyToAsync(bytes);
            var manifest = DatasetManifest.Parse(bytes.ToArray());

            // Then patient A's slides are always on one side and patient B's on the other; the groups and the override are recorded
            Assert.Equal(["patient-A", "patient-A", "patient-B"], manifest.Slides.Select(s => s.Group));
            Assert.Equal(manifest.Slides[0].Split, manifest.Slides[1].Split);
            Assert.NotEqual(manifest.Slides[0].Split, manifest.Slides[2].Split);
            Assert.Equal([false, false, true], manifest.Slides.Select(s => s.MppOverridden));
            Assert.Equal([0.25, 0.25, 0.3], manifest.Slides.Select(s => s.MicronsPerPixel));
            Assert.Equal(["Tumour", "Necrosis", "Stroma"], manifest.Classes);
            splits.Add(manifest.Slides[2].Split);
        }
        Assert.Equal(2, splits.Count); // the seed decides which patient validates

        // When a three-class model is trained on it
        var trained = await runner.RunAsync(new RunRequest(temp.Combine("lamina.yaml"), "train", []), CancellationToken.None);

        // Then the card names the three classes and the metrics are computed over them
        Assert.True(trained.Status == RunStatus.Completed, trained.Error);
        var model = await ModelPackages.ResolveAsync(store, blobs, trained.RunId.ToString(), CancellationToken.None);
        Assert.Equal(["Tumour", "Necrosis", "Stroma"], model.Card.Classes);
        var metrics = await store.GetMetricsAsync(trained.RunId, CancellationToken.None);
        Assert.True(metrics.Any(m => m.Name == "val/accuracy"), string.Join(", ", metrics.Select(m => m.Name).Distinct()));
        Assert.InRange(metrics.Last(m => m.Name == "val/accuracy").Value, 0, 1);
        Assert.InRange(metrics.Last(m => m.Name == "val/balanced_accuracy").Value, 0, 1);
        Assert.Contains(metrics, m => m.Name == "tiles/train/Necrosis");
        var log = await store.GetLogAsync(trained.RunId, CancellationToken.None);
        Assert.Contains("slide-2.tif:", log);
        Assert.Contains("group patient-B; 0.3 µm per pixel (manifest)", log);
    }
}
