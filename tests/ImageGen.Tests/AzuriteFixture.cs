using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;

namespace ImageGen.Tests;

/// <summary>
/// A real Azurite (tools/azurite, installed by `npm ci --prefix tools/azurite`) on free ports of its own,
/// so a developer's Azurite on the default ports does not collide. Blob, queue and table services (the durable
/// backend needs all three); data in a temp folder.
/// </summary>
public sealed class AzuriteFixture : IDisposable
{
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly Process process;
    private readonly TempFolder data = new();
    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }
    public string ConnectionString { get; }

    public AzuriteFixture()
    {
        string root = RepoRoot();
        string azurite = Path.Combine(root, "tools", "azurite", "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
            throw new InvalidOperationException($"Azurite is not installed at {azurite}; run: npm ci --prefix tools/azurite");
        BlobPort = FreePort();
        QueuePort = FreePort();
        TablePort = FreePort();
        var start = new ProcessStartInfo(azurite)
        {
            ArgumentList = { "--silent", "--location", data.Path, "--skipApiVersionCheck", "--loose", "--blobHost", "127.0.0.1", "--blobPort", BlobPort.ToString(),
                "--queueHost", "127.0.0.1", "--queuePort", QueuePort.ToString(), "--tableHost", "127.0.0.1", "--tablePort", TablePort.ToString() },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;" +
                           $"QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                new BlobServiceClient(ConnectionString).GetBlobContainerClient("ready").CreateIfNotExists();
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && !process.HasExited) { Thread.Sleep(250); }
        }
    }

    public BlobServiceClient Client() => new(ConnectionString);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

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
