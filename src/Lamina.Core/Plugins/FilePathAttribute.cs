namespace Lamina.Core.Plugins;

/// <summary>
/// Marks a plug-in constructor parameter that is a file path: a relative path given in a configuration file resolves
/// against that file's folder (an experiment's or an analysis file's), not against the working directory.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class FilePathAttribute : Attribute;
