using System.Text.Json.Nodes;

namespace Lamina.Core.Plugins;

/// <summary>
/// A preprocessing fitted to data when it is created (a stain normaliser fitted on a target image): a trained model's
/// card stores <see cref="FittedParams"/> in place of the params it was given, so that production applies exactly
/// what training did without the data it was fitted on.
/// </summary>
public interface IFittedPreprocessing : IPreprocessing
{
    /// <summary>Params that recreate this plug-in as fitted (the same <c>cls</c>, these <c>params</c>), snake_case keys.</summary>
    JsonObject FittedParams { get; }
}
