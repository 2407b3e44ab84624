using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Lamina.Tracking;

/// <summary>Describes the machine and the software a run executes on.</summary>
public static class EnvironmentCapture
{
    private static readonly TimeSpan GpuQueryTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Captures OS, CPU, memory, GPU (through <c>nvidia-smi</c>, when present), .NET and Lamina versions, and the versions of
    /// <paramref name="assemblies"/> and of every loaded non-framework assembly.
    /// </summary>
    public static EnvironmentInfo Capture(IEnumerable<Assembly> assemblies)
    {
        ArgumentNullException.ThrowIfNull(assemblies);
        return new EnvironmentInfo(
            RuntimeInformation.OSDescription,
            RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            CpuModel(),
            Environment.ProcessorCount,
            TotalMemoryBytes(),
            Gpu(),
            RuntimeInformation.FrameworkDescription,
            VersionOf(typeof(EnvironmentCapture).Assembly),
            Packages(assemblies));
    }

    internal static IReadOnlyDictionary<string, string> Packages(IEnumerable<Assembly> assemblies)
    {
        var packages = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var assembly in assemblies)
        {
            Add(packages, assembly);
        }

        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!assembly.IsDynamic && !IsFramework(assembly.GetName().Name))
            {
                Add(packages, assembly);
            }
        }

        return packages;
    }

    private static void Add(SortedDictionary<string, string> packages, Assembly assembly)
    {
        var name = assembly.GetName().Name;
        if (name is not null)
        {
            packages.TryAdd(name, VersionOf(assembly));
        }
    }

    private static bool IsFramework(string? name) =>
        name is null or "System" or "mscorlib" or "netstandard" or "WindowsBase"
        || name.StartsWith("System.", StringComparison.Ordinal)
        || name.StartsWith("Microsoft.CSharp", StringComparison.Ordinal)
        || name.StartsWith("Microsoft.VisualBasic", StringComparison.Ordinal)
        || name.StartsWith("Microsoft.Win32.", StringComparison.Ordinal);

    /// <summary>The informational version, whole (its <c>+commit</c> suffix names the exact build).</summary>
    private static string VersionOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString()
        ?? "unknown";

    private static string CpuModel()
    {
        foreach (var line in ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0)
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return "unknown";
    }

    private static long TotalMemoryBytes()
    {
        foreach (var line in ReadLines("/proc/meminfo"))
        {
            // "MemTotal:       131891900 kB"
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts is ["MemTotal:", var kilobytes, "kB"] && long.TryParse(kilobytes, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value * 1024;
            }
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllLines(path) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string? Gpu()
    {
        var lines = new List<string>();
        using var process = new System.Diagnostics.Process
        {
            StartInfo = new System.Diagnostics.ProcessStartInfo("nvidia-smi")
            {
                ArgumentList = { "--query-gpu=name,driver_version", "--format=csv,noheader" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                CreateNoWindow = true,
            },
        };
        process.OutputDataReceived += (_, e) =>
        {
            if (!string.IsNullOrWhiteSpace(e.Data))
            {
                lock (lines)
                {
                    lines.Add(e.Data.Trim());
                }
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        try
        {
            if (!process.Start())
            {
                return null;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no NVIDIA driver tools: no GPU we could use
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(GpuQueryTimeout))
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            return null;
        }

        process.WaitForExit(); // drains the asynchronous readers
        lock (lines)
        {
            return process.ExitCode == 0 && lines.Count > 0 ? string.Join("; ", lines) : null;
        }
    }
}
