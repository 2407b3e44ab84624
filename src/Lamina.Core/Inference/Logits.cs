namespace Lamina.Core.Inference;

/// <summary>What a classifier's raw outputs mean as probabilities.</summary>
public static class Logits
{
    /// <summary>Softmax of each row (two or more outputs) or the sigmoid of the single output.</summary>
    public static float[] ToProbabilities(ReadOnlySpan<float> logits, int outputs)
    {
        var probabilities = new float[logits.Length];
        if (outputs == 1)
        {
            for (var k = 0; k < logits.Length; k++) probabilities[k] = (float)(1 / (1 + Math.Exp(-logits[k])));
            return probabilities;
        }
        for (var r = 0; r < logits.Length / outputs; r++)
        {
            var row = logits.Slice(r * outputs, outputs);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            var sum = 0.0;
            foreach (var v in row) sum += Math.Exp(v - max);
            for (var c = 0; c < outputs; c++) probabilities[r * outputs + c] = (float)(Math.Exp(row[c] - max) / sum);
        }
        return probabilities;
    }
}
