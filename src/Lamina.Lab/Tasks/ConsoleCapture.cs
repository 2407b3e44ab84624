using System.Text;

namespace Lamina.Lab.Tasks;

/// <summary>
/// Tees everything written to the console during a run into a buffer that is stored with the run,
/// while the user still sees it.
/// </summary>
/// <remarks>
/// Showing is best effort: when the console cannot be written (a closed or broken pipe, a full disk behind a redirection)
/// the text is still captured and the run goes on; only the echo stops.
/// </remarks>
internal sealed class ConsoleCapture : IDisposable
{
    private readonly TextWriter _originalOut = Console.Out;
    private readonly TextWriter _originalError = Console.Error;
    private readonly StringBuilder _buffer = new();
    private readonly Lock _gate = new();

    /// <param name="echo">Where the user sees the task's output (the console's standard output by default).</param>
    public ConsoleCapture(TextWriter? echo = null)
    {
        Writer = TextWriter.Synchronized(new TeeWriter(echo ?? _originalOut, this));
        Console.SetOut(Writer);
        Console.SetError(TextWriter.Synchronized(new TeeWriter(_originalError, this)));
    }

    /// <summary>A writer that reaches both the console and the capture.</summary>
    public TextWriter Writer { get; }

    /// <summary>Returns what was captured since the last call and forgets it.</summary>
    public string Drain()
    {
        lock (_gate)
        {
            var text = _buffer.ToString();
            _buffer.Clear();
            return text;
        }
    }

    /// <summary>Puts text back in front of what is captured (it could not be stored yet).</summary>
    public void Restore(string text)
    {
        lock (_gate)
        {
            _buffer.Insert(0, text);
        }
    }

    /// <summary>Adds text to the run's log without showing it.</summary>
    public void Record(string text) => Append(text);

    public void Dispose()
    {
        Console.SetOut(_originalOut);
        Console.SetError(_originalError);
    }

    private void Append(ReadOnlySpan<char> text)
    {
        lock (_gate)
        {
            _buffer.Append(text);
        }
    }

    private sealed class TeeWriter(TextWriter inner, ConsoleCapture capture) : TextWriter
    {
        private bool _broken;

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            Show(w => w.Write(value));
            capture.Append([value]);
        }

        public override void Write(string? value)
        {
            Show(w => w.Write(value));
            capture.Append(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            Show(w => w.Write(buffer, index, count));
            capture.Append(buffer.AsSpan(index, count));
        }

        public override void Flush() => Show(w => w.Flush());

        private void Show(Action<TextWriter> write)
        {
            if (_broken) return;
            try
            {
                write(inner);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                _broken = true;
            }
        }
    }
}
