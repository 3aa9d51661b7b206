using System.Diagnostics;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;

namespace ImageGen.Tests;

/// <summary>
/// A real Azurite (tools/azurite, installed by the test project's build with `npm ci`) on ports the OS picks
/// (port 0; the bound ports are read from Azurite's own "listening at" lines), so neither a developer's Azurite
/// nor another server can collide with it. Blob, queue and table services (the durable backend needs all three);
/// data in a temp folder.
/// </summary>
public sealed class AzuriteFixture : IDisposable
{
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static readonly Regex Listening = new(@"Azurite (Blob|Queue|Table) service is successfully listening at http://127\.0\.0\.1:(\d+)");
    private readonly Process process;
    private readonly TempFolder data = new();
    private readonly System.Text.StringBuilder output = new();
    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }
    public string ConnectionString { get; }

    public AzuriteFixture()
    {
        string root = RepoRoot();
        string azurite = Path.Combine(root, "tools", "azurite", "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
            throw new InvalidOperationException($"Azurite is not installed at {azurite}; the test project's build installs it (npm ci --prefix tools/azurite)");
        var start = new ProcessStartInfo(azurite)
        {
            ArgumentList = { "--silent", "--location", data.Path, "--skipApiVersionCheck", "--loose", "--blobHost", "127.0.0.1", "--blobPort", "0",
                "--queueHost", "127.0.0.1", "--queuePort", "0", "--tableHost", "127.0.0.1", "--tablePort", "0" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var ports = new Dictionary<string, int>();
        var allListening = new ManualResetEventSlim();
        process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output)
            {
                output.AppendLine(e.Data);
                if (Listening.Match(e.Data) is { Success: true } m) ports[m.Groups[1].Value] = int.Parse(m.Groups[2].Value);
                if (ports.Count == 3) allListening.Set();
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!allListening.Wait(TimeSpan.FromSeconds(60)))
        {
            Dispose();
            lock (output) throw new InvalidOperationException("Azurite did not report its three ports within 60 s; its output:\n" + output);
        }
        lock (output) (BlobPort, QueuePort, TablePort) = (ports["Blob"], ports["Queue"], ports["Table"]);
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;" +
                           $"QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";
    }

    public BlobServiceClient Client() => new(ConnectionString);

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ImageGen.Functions.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (ImageGen.Functions.sln) not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        try { if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(15000); } } catch (InvalidOperationException) { }
        process.Dispose();
        data.Dispose();
    }
}
