// Trains a small dropout MLP head on fixed pseudo-random embeddings and prints the SHA-256 of its weights, with the
// vector width it ran with: the test runs it under runtime switches that change the vector width (or turn vectors
// off) and expects the same digest every time.
// Usage: Lamina.Lab.TrainingProbe <threads>
using System.Globalization;
using System.Numerics;
using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

var threads = args.Length == 1 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1;
const int rows = 300, dim = 40;
var random = new Random(5);
var x = new float[rows][];
var y = new int[rows];
for (var r = 0; r < rows; r++)
{
    y[r] = r % 3;
    x[r] = [.. Enumerable.Range(0, dim).Select(d => (float)(random.NextDouble() + (d % 3 == y[r] ? 0.4 : 0)))];
}
var model = new HeadModel(new MlpHead(nLayers: 3, width: 36, dropout: 0.2).Layers(dim, 3), seed: 2);
new HeadTrainer().Train(x[..240], y[..240], x[240..], y[240..], 3, model, new CrossEntropy(), [new Accuracy()], [], null,
    new TrainerOptions(Epochs: 3, BatchSize: 24, Seed: 9, new OptimizerOptions("adamw", WeightDecay: 0.01), Threads: threads));
Console.WriteLine($"{model.Sha256()} lanes={(Vector.IsHardwareAccelerated ? Vector<float>.Count : 1)}");
return 0;
