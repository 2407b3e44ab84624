using System.Security.Cryptography;
using Lamina.Core.Inference;

namespace Lamina.Core.Tests.Inference;

/// <summary>One ResNet-18 per test class: loading costs about a second on 2 cores.</summary>
public sealed class ResNet18Fixture : IDisposable
{
    public Backbone Batched { get; } = Backbone.Load(Backbone.ResNet18, intraOpThreads: 2, batchSize: 4);

    public Backbone Single { get; } = Backbone.Load(Backbone.ResNet18, intraOpThreads: 2, batchSize: 1);

    public void Dispose()
    {
        Batched.Dispose();
        Single.Dispose();
    }
}

public sealed class BackboneTests(ResNet18Fixture fixture) : IClassFixture<ResNet18Fixture>
{
    private static ImageTensor Solid(float r, float g, float b, int size = 224)
    {
        var data = new float[size * size * 3];
        for (var i = 0; i < data.Length; i += 3)
        {
            data[i] = r;
            data[i + 1] = g;
            data[i + 2] = b;
        }
        return new ImageTensor(size, size, 3, data);
    }

    private static ImageTensor Noise(int seed)
    {
        var random = new Random(seed);
        var data = new float[224 * 224 * 3];
        for (var i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();
        return new ImageTensor(224, 224, 3, data);
    }

    [Fact]
    public void ResNet18_LoadsWithItsSpecAndTheDigestOfItsFile()
    {
        var spec = fixture.Batched.Spec;

        var file = Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx");
        Assert.Equal(new BackboneSpec("resnet18", 224, 3, 512, "rgb 0..1", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)))), spec);
        Assert.Equal(64, spec.Sha256.Length);
    }

    [Fact]
    public void Embed_BatchedAgreesWithBatchOne_IncludingAPartialLastBatch()
    {
        ImageTensor[] tiles = [.. Enumerable.Range(0, 5).Select(Noise)];

        var batched = fixture.Batched.Embed(tiles);
        var single = fixture.Single.Embed(tiles);

        Assert.Equal(5, batched.Length);
        for (var t = 0; t < tiles.Length; t++)
        {
            Assert.Equal(512, batched[t].Length);
            for (var i = 0; i < 512; i++) Assert.True(Math.Abs(batched[t][i] - single[t][i]) <= 1e-4, $"tile {t} value {i}: {batched[t][i]} vs {single[t][i]}");
        }
    }

    [Fact]
    public void Embed_CancelledWhileRunning_StopsWithinABatch_AndTheBackboneStillWorks()
    {
        // Given 64 tiles (16 batches of 4), the time one batch takes, and a token cancelled two batches in by a thread of
        // its own (a timer's callback waits for the thread pool, which other test classes may keep busy)
        var values = fixture.Batched.TileValues;
        var tiles = new float[64 * values];
        for (var i = 0; i < tiles.Length; i++) tiles[i] = (i % 7) / 7f;
        var embeddings = new float[64 * 512];
        fixture.Batched.Embed(tiles.AsSpan(0, 4 * values), 4, embeddings);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        fixture.Batched.Embed(tiles.AsSpan(0, 4 * values), 4, embeddings);
        var oneBatch = watch.Elapsed;
        using var cancel = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            Thread.Sleep(oneBatch * 2);
            cancel.Cancel();
        }) { IsBackground = true };

        // When they are embedded
        watch.Restart();
        canceller.Start();
        Assert.ThrowsAny<OperationCanceledException>(() => fixture.Batched.Embed(tiles, 64, embeddings, cancel.Token));

        // Then it stopped well before the 64 tiles were done, and the next call runs as usual
        var stopped = watch.Elapsed;
        canceller.Join();
        fixture.Batched.Embed(tiles.AsSpan(0, 4 * values), 4, embeddings);
        Assert.True(stopped < oneBatch * 6 + TimeSpan.FromSeconds(1), $"cancelled after {stopped}, a batch takes {oneBatch}");
    }

    [Fact]
    public void Embed_SameTilesTwice_GivesIdenticalBits()
    {
        ImageTensor[] tiles = [Noise(7), Noise(8), Noise(9)];

        var first = fixture.Batched.Embed(tiles);
        var second = fixture.Batched.Embed(tiles);
        using var another = Backbone.Load(Backbone.ResNet18, intraOpThreads: 2, batchSize: 4);
        var third = another.Embed(tiles);

        for (var t = 0; t < tiles.Length; t++)
        {
            Assert.Equal(first[t], second[t]);
            Assert.Equal(first[t], third[t]);
        }
    }

    [Fact]
    public void Embed_PinkTissueAndWhiteBackground_GiveDifferentEmbeddings()
    {
        var pink = Solid(220 / 255f, 120 / 255f, 190 / 255f);
        var white = Solid(1, 1, 1);

        var embeddings = fixture.Batched.Embed([pink, white]);

        var distance = Math.Sqrt(embeddings[0].Zip(embeddings[1], (a, b) => (double)(a - b) * (a - b)).Sum());
        Assert.True(distance > 1, $"distance {distance}");
        Assert.All(embeddings.SelectMany(e => e), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Embed_SpanOverload_MatchesTheTensorOverload()
    {
        var tiles = new[] { Noise(1), Noise(2) };
        var hwc = tiles.SelectMany(t => t.Data).ToArray();
        var embeddings = new float[2 * 512];

        fixture.Batched.Embed(hwc, 2, embeddings);

        Assert.Equal(fixture.Batched.Embed(tiles).SelectMany(e => e), embeddings);
    }

    [Fact]
    public void Embed_TileOfTheWrongSize_FailsNamingTheBackbone()
    {
        var error = Assert.Throws<InferenceException>(() => fixture.Batched.Embed([Solid(1, 1, 1, size: 256)]));

        Assert.Contains("resnet18 takes 224x224x3", error.Message);
    }

    [Fact]
    public void Load_MissingFile_FailsNamingIt()
    {
        using var folder = new TemporaryDirectory();
        var path = folder.Combine("nope.onnx");

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("no such ONNX file", error.Message);
    }

    [Fact]
    public void Load_FileThatIsNotOnnx_FailsNamingIt()
    {
        using var folder = new TemporaryDirectory();
        var path = folder.Combine("notes.onnx");
        File.WriteAllText(path, "this is not a protobuf, just some text that happens to end in .onnx\n");

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("not a readable ONNX model", error.Message);
    }

    [Fact]
    public void Load_OnnxWhoseInputIsNotAnImage_FailsNamingTheInput()
    {
        using var folder = new TemporaryDirectory();
        var path = folder.Combine("table.onnx");
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx")));
        var input = model.Graph.Input.First(i => i.Name == "Input247");
        input.Type.TensorType.Shape.Dim[1].DimValue = 4;
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));

        var error = Assert.Throws<InferenceException>(() => Backbone.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("input 'Input247' must be float N×3×H×W", error.Message);
    }

    [Fact]
    public void Load_OnnxFileByPath_TakesTilesInUnitRangeAndKeepsItsDigest()
    {
        using var folder = new TemporaryDirectory();
        var path = folder.Combine("my-backbone.onnx");
        File.Copy(Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx"), path);

        using var backbone = Backbone.Load(path, intraOpThreads: 2, batchSize: 2);

        Assert.Equal(new BackboneSpec("my-backbone", 224, 3, 512, "rgb 0..1", fixture.Batched.Spec.Sha256), backbone.Spec);
        Assert.Equal(512, backbone.Embed([Noise(3)])[0].Length);
    }

    [Fact]
    public void Load_Cuda_IsRefusedClearlyWhereItCannotStart()
    {
        var error = Assert.Throws<InferenceException>(() => Backbone.Load(Backbone.ResNet18, ExecutionProvider.Cuda));

        Assert.Contains("execution provider Cuda could not start", error.Message);
        Assert.Contains("does not fall back", error.Message);
    }
}
