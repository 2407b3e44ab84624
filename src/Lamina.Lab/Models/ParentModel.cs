using System.Buffers.Binary;
using Lamina.Core.Inference;
using Lamina.Lab.Training;
using Lamina.Tracking;
using Onnx;

namespace Lamina.Lab.Models;

/// <summary>
/// The model a training task fine-tunes (<c>init_from</c>): a trained model package kept with its run (published or not),
/// and its head's weights read back from the initialisers of its <c>head.onnx</c>.
/// </summary>
/// <param name="Stored">The parent's registration and card.</param>
/// <param name="Weights">The head's parameters by name (<c>linear0.weight</c>, …) with their shapes.</param>
internal sealed record ParentModel(StoredModel Stored, IReadOnlyDictionary<string, (int[] Shape, float[] Values)> Weights)
{
    /// <summary>The role of the lineage edge from a fine-tuned model's run to its parent's.</summary>
    public const string Role = "parent";

    /// <summary>How the child's card names its parent.</summary>
    public ModelParent Reference => new(Stored.Record.RunId, Stored.Record.Name, Stored.Record.CardDigest);

    /// <summary>Finds the model <paramref name="reference"/> names (<c>RUN</c>, a unique prefix, or <c>RUN/NAME</c>) and reads its head.</summary>
    public static async Task<ParentModel> LoadAsync(ITrackingStore store, IBlobStore blobs, string reference, CancellationToken cancellationToken)
    {
        var stored = await ModelPackages.ResolveAsync(store, blobs, reference, cancellationToken);
        var card = stored.Card;
        if (card.Backbone is null || card.Kind != "trained")
        {
            throw LabException.ParentNotAHead(reference, stored.Record.RunId, card.Name, card.Kind);
        }
        var bytes = await ModelPackages.ReadFileAsync(blobs, card.Network, cancellationToken);
        return new ParentModel(stored, ReadInitializers(bytes, $"{stored.Record.RunId}/{card.Name}/{card.Network.Name}"));
    }

    /// <summary>The float initialisers of an ONNX graph by name, with their shapes.</summary>
    internal static IReadOnlyDictionary<string, (int[] Shape, float[] Values)> ReadInitializers(byte[] onnx, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw LabException.ParentHeadUnreadable(source, e.Message);
        }
        var weights = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (var tensor in model.Graph?.Initializer ?? [])
        {
            if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            {
                throw LabException.ParentHeadUnreadable(source, $"initialiser '{tensor.Name}' is not float32");
            }
            var shape = tensor.Dims.Select(d => checked((int)d)).ToArray();
            var count = shape.Aggregate(1L, (a, d) => a * d);
            float[] values;
            if (tensor.RawData.Length > 0)
            {
                var raw = tensor.RawData.Span;
                if (raw.Length != count * sizeof(float)) throw LabException.ParentHeadUnreadable(source, $"initialiser '{tensor.Name}' holds {raw.Length} bytes for shape [{string.Join(", ", shape)}]");
                values = new float[count];
                for (var k = 0; k < values.Length; k++) values[k] = BinaryPrimitives.ReadSingleLittleEndian(raw[(k * sizeof(float))..]);
            }
            else
            {
                values = [.. tensor.FloatData];
                if (values.Length != count) throw LabException.ParentHeadUnreadable(source, $"initialiser '{tensor.Name}' holds {values.Length} values for shape [{string.Join(", ", shape)}]");
            }
            weights[tensor.Name] = (shape, values);
        }
        return weights;
    }

    /// <summary>
    /// Checks that the child can start from this parent — the same backbone by digest, the same classes, a head of the
    /// same layers and shapes — and copies the parent's weights into <paramref name="head"/>. Every difference is named.
    /// </summary>
    public void InitialiseHead(HeadModel head, string childModel, string backboneSha256, IReadOnlyList<string> classes)
    {
        var card = Stored.Card;
        var parent = $"{Stored.Record.RunId.ToString()[..8]}/{card.Name}";
        if (card.Backbone!.File.Sha256 != backboneSha256)
        {
            throw LabException.ParentBackboneDiffers(parent, card.Backbone.Name, card.Backbone.File.Sha256, childModel, backboneSha256);
        }
        if (!card.Classes.SequenceEqual(classes, StringComparer.Ordinal))
        {
            throw LabException.ParentClassesDiffer(parent, card.Classes, childModel, classes);
        }
        var problems = new List<string>();
        var names = head.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var parameter in head.Parameters)
        {
            if (!Weights.TryGetValue(parameter.Name, out var weight))
            {
                problems.Add($"{parameter.Name} [{string.Join(", ", parameter.Shape)}] is not in the parent's head");
            }
            else if (!weight.Shape.SequenceEqual(parameter.Shape))
            {
                problems.Add($"{parameter.Name} is [{string.Join(", ", weight.Shape)}] in the parent, [{string.Join(", ", parameter.Shape)}] in '{childModel}'");
            }
        }
        problems.AddRange(Weights.Keys.Where(k => !names.Contains(k)).Order(StringComparer.Ordinal)
            .Select(k => $"{k} [{string.Join(", ", Weights[k].Shape)}] of the parent's head has no counterpart in '{childModel}'"));
        if (problems.Count > 0)
        {
            throw LabException.ParentHeadDiffers(parent, childModel, problems);
        }
        head.SetWeights([.. head.Parameters.Select(p => Weights[p.Name].Values)]);
    }
}
