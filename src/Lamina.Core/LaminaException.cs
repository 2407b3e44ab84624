namespace Lamina.Core;

/// <summary>The root of every error Lamina raises on purpose; the CLI prints its message as one line.</summary>
public class LaminaException : Exception
{
    public LaminaException(string message) : base(message) { }

    public LaminaException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>What is at fault, when one thing is: a file (<c>path:line</c> where known), a key path, or an id.</summary>
    public string? At { get; init; }

    /// <summary>True when retrying the same operation later may succeed (a busy database, a broken connection).</summary>
    public virtual bool IsTransient => false;
}
