namespace Lamina.Core;

/// <summary>What kind of failure a <see cref="LaminaException"/> is: what the CLI turns into its exit code and a script acts on.</summary>
public enum LaminaErrorKind
{
    /// <summary>An operation that failed for a reason of its own (a task that threw, a tool that failed); the default.</summary>
    Failed,

    /// <summary>The command was asked wrongly: an option missing, contradictory or malformed, an ambiguous id.</summary>
    Usage,

    /// <summary>An input file or value that is not valid (a configuration, a model card, a slide that cannot be read).</summary>
    Validation,

    /// <summary>A run, model, file or slide that was named does not exist.</summary>
    NotFound,

    /// <summary>The operation conflicts with the state of what it acts on (a run published, already ended, a model already there).</summary>
    Conflict,

    /// <summary>Content that does not match its recorded digest, or a record that is missing what it names: something was altered.</summary>
    Integrity,

    /// <summary>A resource is busy or unreachable; trying again later may work (<see cref="LaminaException.IsTransient"/>).</summary>
    Unavailable,
}
