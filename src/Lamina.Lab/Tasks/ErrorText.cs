using Lamina.Core;

namespace Lamina.Lab.Tasks;

/// <summary>What a run records as its error: the messages of an exception and its causes, never its type name or stack.</summary>
internal static class ErrorText
{
    /// <summary><c>message: inner message: …</c>, each message once; the messages of every exception an aggregate holds.</summary>
    public static string Of(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var messages = new List<string>();
        Collect(exception, messages);
        return messages.Count == 0 ? exception.GetType().Name : string.Join(": ", messages);
    }

    /// <summary>Whether the stack trace is worth keeping in the run's log: not for an error Lamina raised on purpose.</summary>
    public static bool WorthAStack(Exception exception) => exception is not LaminaException;

    private static void Collect(Exception exception, List<string> messages)
    {
        if (exception is AggregateException aggregate)
        {
            foreach (var inner in aggregate.InnerExceptions) Collect(inner, messages);
            return;
        }
        var message = exception.Message.Trim();
        if (message.Length > 0 && !messages.Any(m => m.Contains(message, StringComparison.Ordinal)))
        {
            messages.Add(message);
        }
        if (exception.InnerException is { } cause)
        {
            Collect(cause, messages);
        }
    }
}
