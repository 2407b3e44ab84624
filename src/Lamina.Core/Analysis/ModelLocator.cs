namespace Lamina.Core.Analysis;

/// <summary>Finds the package folder of an analysis's model: a path as given (manual), or a run's model fetched from a store (auto).</summary>
public interface IModelLocator
{
    /// <returns>The full path of a folder holding the model's <c>model.json</c> and files (verified when opened).</returns>
    Task<string> LocateAsync(ModelReference model, CancellationToken cancellationToken);
}

/// <summary>Finds manual (package folder) models only: what a bundle or the production service runs with no tracking store.</summary>
public sealed class PackageFolderLocator : IModelLocator
{
    public Task<string> LocateAsync(ModelReference model, CancellationToken cancellationToken) =>
        model.Sourcing == ModelSourcing.Manual ? Task.FromResult(model.Reference) : throw AnalysisException.AutoSourcing(model.Name);
}
