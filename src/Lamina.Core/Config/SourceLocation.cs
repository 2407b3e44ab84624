namespace Lamina.Core.Config;

/// <summary>A place in a configuration source: a file (or a pseudo-source such as <c>--set</c>), 1-based line and column.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public static SourceLocation None(string file) => new(file, 0, 0);

    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}" : File;
}
