namespace Lamina.Core.Outputs;

/// <summary>An output that cannot be written as asked: its place is not writable, or something is already there.</summary>
public sealed class OutputException : LaminaException
{
    private OutputException(string message, string at, LaminaErrorKind kind, Exception? inner = null) : base(message, inner)
    {
        At = at;
        Kind = kind;
    }

    public static OutputException NotWritable(string target, Exception inner) =>
        new($"cannot write {target}: {inner.Message}; choose another place with write access", target, LaminaErrorKind.Failed, inner);

    public static OutputException Exists(string target, string option) =>
        new($"{target} already exists and is not empty: nothing was written; choose a new place, or add {option} to replace it", target, LaminaErrorKind.Conflict);

    public static OutputException WouldReplace(string target, string kept) =>
        new($"{target} holds {kept}, which this command reads or runs in: it is not replaced; choose another place for the output", target, LaminaErrorKind.Conflict);

    public static OutputException FileExists(string path, string option) =>
        new($"{path} already exists: nothing was written; choose another place, or add {option} to replace it", path, LaminaErrorKind.Conflict);

    public static OutputException FileInTheWay(string target) =>
        new($"{target} is a file, where a folder is needed: nothing was written; move it away or choose another place", target, LaminaErrorKind.Conflict);

    /// <summary>Why a folder cannot be created: a file in the way on its path, else the system's reason.</summary>
    internal static OutputException CannotCreate(string target, Exception inner)
    {
        for (var path = Path.GetDirectoryName(target); path is not null; path = Path.GetDirectoryName(path))
        {
            if (File.Exists(path)) return FileInTheWay(path);
        }
        return NotWritable(target, inner);
    }

    public static OutputException NotReplaced(string target, Exception inner) =>
        new($"could not move the finished output into {target}: {inner.Message}", target, LaminaErrorKind.Failed, inner);
}
