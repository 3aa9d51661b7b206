using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// Azurite, the storage emulator, as a child process: the copy pinned by tools/azurite/package-lock.json (installed
/// with npm ci when it is missing), blob, queue and table services (the durable backend needs all three) on
/// 127.0.0.1, data in a folder of the caller's. Port 0 lets the OS pick each port; the bound ports are read from
/// Azurite's own "listening at" lines. Disposing stops it.
/// </summary>
public sealed class LocalAzurite : IDisposable
{
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static readonly Regex Listening = new(@"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)");
    private readonly Process process;
    private readonly StringBuilder output = new();
    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }
    public string ConnectionString { get; }

    private LocalAzurite(Process process, int blob, int queue, int table, StringBuilder output)
    {
        this.process = process;
        this.output = output;
        (BlobPort, QueuePort, TablePort) = (blob, queue, table);
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{blob}/devstoreaccount1;" +
                           $"QueueEndpoint=http://127.0.0.1:{queue}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{table}/devstoreaccount1;";
    }

    /// <summary>tools/azurite under the repository root.</summary>
    public static string Folder(string repoRoot) => Path.Combine(repoRoot, "tools", "azurite");

    /// <summary>Installs the pinned Azurite when it is missing (npm ci into tools/azurite, ignored by git).</summary>
    public static void EnsureInstalled(string repoRoot, TextWriter? log = null)
    {
        string folder = Folder(repoRoot);
        if (File.Exists(Executable(folder))) return;
        log?.WriteLine($"installing Azurite (npm ci --prefix {Path.GetRelativePath(repoRoot, folder)})...");
        var npm = Process.Start(new ProcessStartInfo("npm") { ArgumentList = { "ci", "--prefix", folder, "--no-audit", "--no-fund", "--loglevel=error" } })
            ?? throw new InvalidOperationException("npm did not start: Node.js 20 or newer is needed to install Azurite");
        npm.WaitForExit();
        if (npm.ExitCode != 0 || !File.Exists(Executable(folder)))
            throw new InvalidOperationException($"npm ci --prefix {folder} failed ({npm.ExitCode}); install Node.js 20 or newer, or run it yourself");
    }

    private static string Executable(string folder) => Path.Combine(folder, "node_modules", ".bin", "azurite");

    /// <param name="ports">(blob, queue, table); 0 lets the OS pick.</param>
    public static LocalAzurite Start(string repoRoot, string dataFolder, (int blob, int queue, int table) ports, TimeSpan? timeout = null)
    {
        string executable = Executable(Folder(repoRoot));
        if (!File.Exists(executable))
            throw new InvalidOperationException($"Azurite is not installed at {executable}; npm ci --prefix tools/azurite installs it");
        Directory.CreateDirectory(dataFolder);
        var start = new ProcessStartInfo(executable)
        {
            ArgumentList = { "--silent", "--location", dataFolder, "--skipApiVersionCheck", "--loose", "--blobHost", "127.0.0.1", "--blobPort", $"{ports.blob}",
                "--queueHost", "127.0.0.1", "--queuePort", $"{ports.queue}", "--tableHost", "127.0.0.1", "--tablePort", $"{ports.table}" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var output = new StringBuilder();
        var bound = new Dictionary<string, int>();
        using var allListening = new ManualResetEventSlim();
        var process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output)
            {
                output.AppendLine(e.Data);
                if (Listening.Match(e.Data) is { Success: true } m) bound[m.Groups[1].Value] = int.Parse(m.Groups[2].Value);
                if (bound.Count == 3) allListening.Set();
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!allListening.Wait(timeout ?? TimeSpan.FromSeconds(60)))
        {
            Stop(process);
            lock (output) throw new InvalidOperationException("Azurite did not report its three ports in time (a port in use?); its output:\n" + output);
        }
        lock (output) return new LocalAzurite(process, bound["Blob"], bound["Queue"], bound["Table"], output);
    }

    /// <summary>
    /// SIGTERM first, so Azurite saves its metadata (it persists every few seconds and on a clean shutdown: a
    /// SIGKILL loses the last writes, such as a just-published latest.json); a kill only if it does not exit in time.
    /// </summary>
    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                if (!OperatingSystem.IsWindows() && Terminate(process.Id, 15) == 0) process.WaitForExit(15000);
                if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(15000); }
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Terminate(int pid, int signal);

    public void Dispose() => Stop(process);
}
