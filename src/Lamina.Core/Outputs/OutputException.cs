namespace Lamina.Core.Outputs;

/// <summary>An output that cannot be written as asked: its place is not writable, or something is already there.</summary>
public sealed class OutputException : LaminaException
{
    private OutputException(string message, string at, Exception? inner = null) : base(message, inner)
    {
        At = at;
    }

    public static OutputException NotWritable(string target, Exception inner) =>
        new($"cannot write {target}: {inner.Message}; choose another place with write access", target, inner);

    public static OutputException Exists(string target, string option) =>
        new($"{target} already exists and is not empty: nothing was written; choose a new place, or add {option} to replace it", target);

    public static OutputException FileInTheWay(string target) =>
        new($"{target} is a file, where a folder is to be written: nothing was written; move it away or choose another place", target);

    public static OutputException NotReplaced(string target, Exception inner) =>
        new($"could not move the finished output into {target}: {inner.Message}", target, inner);
}
