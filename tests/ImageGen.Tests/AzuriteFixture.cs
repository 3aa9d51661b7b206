using Azure.Storage.Blobs;
using ImageGen.Cli.Hosting;

namespace ImageGen.Tests;

/// <summary>
/// A real Azurite (tools/azurite, installed by the test project's build with `npm ci`) on ports the OS picks
/// (port 0), so neither a developer's Azurite nor another server can collide with it; data in a temp folder.
/// The process itself is the CLI's LocalAzurite, which `imagegen up` runs too.
/// </summary>
public sealed class AzuriteFixture : IDisposable
{
    public const string AccountKey = LocalAzurite.AccountKey;
    private readonly TempFolder data = new();
    private readonly LocalAzurite azurite;
    public int BlobPort => azurite.BlobPort;
    public int QueuePort => azurite.QueuePort;
    public int TablePort => azurite.TablePort;
    public string ConnectionString => azurite.ConnectionString;

    public AzuriteFixture()
    {
        try { azurite = LocalAzurite.Start(RepoRoot(), data.Path, (0, 0, 0)); }
        catch { data.Dispose(); throw; }
    }

    public BlobServiceClient Client() => new(ConnectionString);

    public static string RepoRoot() => RepositoryRoot.Find();

    public void Dispose()
    {
        azurite.Dispose();
        data.Dispose();
    }
}
