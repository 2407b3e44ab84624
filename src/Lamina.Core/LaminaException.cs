namespace Lamina.Core;

/// <summary>
/// The root of every error Lamina raises on purpose; the CLI prints its message as one line. It is abstract: each
/// project (or concern) has its own subclass whose static factories build the messages, so callers and tests catch by
/// kind, never by message (docs/architecture.md lists them).
/// </summary>
public abstract class LaminaException : Exception
{
    protected LaminaException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>What is at fault, when one thing is: a file (<c>path:line</c> where known), a key path, or an id.</summary>
    public string? At { get; init; }

    /// <summary>True when retrying the same operation later may succeed (a busy database, a broken connection).</summary>
    public virtual bool IsTransient => false;

    /// <summary>What kind of failure this is (the factories set it); a transient error is always <see cref="LaminaErrorKind.Unavailable"/>.</summary>
    public LaminaErrorKind Kind
    {
        get => IsTransient ? LaminaErrorKind.Unavailable : _kind;
        init => _kind = value;
    }

    private readonly LaminaErrorKind _kind;
}
