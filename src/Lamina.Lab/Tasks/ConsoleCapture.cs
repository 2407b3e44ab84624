using System.Text;

namespace Lamina.Lab.Tasks;

/// <summary>
/// Tees everything written to the console during a run into a buffer that is stored with the run,
/// while the user still sees it.
/// </summary>
/// <remarks>
/// Several runs may execute at once in one process (a worker with <c>--concurrency</c>): the console is routed by the
/// run whose code writes (an async-local capture, which flows into the tasks and threads the run starts), so each run's
/// log holds its own output. Showing is best effort: when the console cannot be written (a closed or broken pipe, a
/// full disk behind a redirection) the text is still captured and the run goes on; only the echo stops.
/// </remarks>
internal sealed class ConsoleCapture : IDisposable
{
    private static readonly AsyncLocal<ConsoleCapture?> Current = new();
    private static readonly Lock RouterGate = new();
    private static readonly Router Out = new(capture => capture._out);
    private static readonly Router Error = new(capture => capture._error);

    private readonly StringBuilder _buffer = new();
    private readonly Lock _gate = new();
    private readonly ConsoleCapture? _outer;
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    /// <param name="echo">Where the user sees the task's output (the console's standard output by default).</param>
    public ConsoleCapture(TextWriter? echo = null)
    {
        lock (RouterGate)
        {
            // Installed once and left in place (it passes writes outside any run straight through): swapping the console's
            // writers while other runs write was seen to hang a worker. Another writer set meanwhile becomes what it passes to.
            Out.Install(() => Console.Out, Console.SetOut);
            Error.Install(() => Console.Error, Console.SetError);
        }
        _out = TextWriter.Synchronized(new TeeWriter(echo ?? Out.Original, this));
        _error = TextWriter.Synchronized(new TeeWriter(Error.Original, this));
        Writer = new ConsoleOrdered(_out);
        _outer = Current.Value;
        Current.Value = this;
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
        Current.Value = _outer;
    }

    private void Append(ReadOnlySpan<char> text)
    {
        lock (_gate)
        {
            _buffer.Append(text);
        }
    }

    /// <summary>
    /// Writes in the console's lock order. Writing to the real console locks <c>Console.Out</c> (the router's synchronised
    /// wrapper) inside; a write through <c>Console.Out</c> holds that lock first and then this capture's. A writer that took
    /// this capture's lock first and the console's second (a run's <c>Log</c> beside a <c>Console.WriteLine</c>) deadlocked a
    /// worker; this one takes <c>Console.Out</c> first too.
    /// </summary>
    private sealed class ConsoleOrdered(TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            lock (Console.Out) inner.Write(value);
        }

        public override void Write(string? value)
        {
            lock (Console.Out) inner.Write(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (Console.Out) inner.Write(buffer, index, count);
        }

        public override void WriteLine(string? value)
        {
            lock (Console.Out) inner.WriteLine(value);
        }

        public override void Flush()
        {
            lock (Console.Out) inner.Flush();
        }
    }

    /// <summary>The console writer while runs capture: the writes of a run's code go to its capture, any other to the original.</summary>
    private sealed class Router(Func<ConsoleCapture, TextWriter> of) : TextWriter
    {
        public TextWriter Original { get; private set; } = TextWriter.Null;

        public override Encoding Encoding => Original.Encoding;

        // The console wraps what it is given (a synchronised writer): what it holds once installed is remembered.
        private TextWriter? _installed;

        public void Install(Func<TextWriter> get, Action<TextWriter> set)
        {
            var console = get();
            if (ReferenceEquals(console, _installed) || ReferenceEquals(console, this)) return;
            Original = console;
            set(this);
            _installed = get();
        }


        private TextWriter Target => Current.Value is { } capture ? of(capture) : Original;

        public override void Write(char value) => Target.Write(value);

        public override void Write(string? value) => Target.Write(value);

        public override void Write(char[] buffer, int index, int count) => Target.Write(buffer, index, count);

        public override void WriteLine(string? value) => Target.WriteLine(value);

        public override void Flush() => Target.Flush();
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
