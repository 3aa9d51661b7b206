using System.Text.Json;
using ImageGen.Cli.Hosting;
using ImageGen.Core.Checkpoints;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Tests;

/// <summary>
/// Stopping the host (a recycle, a scale-in, Ctrl+C) reaches the training loop through the activities' cancellation
/// token: the running chunk ends at a step boundary and its checkpoint is in storage, long before the chunk's own
/// limits (10,000 steps or 3 minutes) would have ended it.
/// </summary>
public class PipelineShutdownTests
{
    [Fact]
    public async Task Stopping_the_host_mid_chunk_ends_the_chunk_at_a_step_boundary_with_its_checkpoint_uploaded()
    {
        TestImages.EnsureRuntime();
        using var azurite = new AzuriteFixture();
        var storage = azurite.Client();
        const string dataset = "shutdown";
        await Drops.UploadOptionsAsync(storage, dataset, "");
        await Drops.UploadImagesAsync(storage, dataset, 0, 32);
        var host = await LocalPipelineHost.StartAsync(new LocalPipelineOptions
        {
            StorageConnection = azurite.ConnectionString, Urls = "http://127.0.0.1:0", TaskHub = "ShutdownTest",
            Pipeline = new PipelineSettings { QuietPeriod = TimeSpan.FromSeconds(1), ChunkSteps = 10_000, ChunkTime = TimeSpan.FromMinutes(3) },
            PollInterval = TimeSpan.FromMilliseconds(300), MaxQueuePollingInterval = TimeSpan.FromMilliseconds(300),
        });
        var runs = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);
        await runs.CreateIfNotExistsAsync();
        try
        {
            string progressBlob = await Drops.WaitForAsync(async () =>
            {
                await foreach (var blob in runs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{dataset}/", default))
                    if (blob.Name.EndsWith("/progress.json")
                        && await runs.GetBlobClient(blob.Name).TryReadTextAsync() is { } json
                        && JsonDocument.Parse(json).RootElement.TryGetProperty("step", out var step) && step.GetInt64() >= 20) return blob.Name;
                return null;
            }, TimeSpan.FromSeconds(120), "chunk 0 to train 20 steps");
            string runFolder = progressBlob[..(progressBlob.LastIndexOf('/') + 1)];
            string runId = runFolder.TrimEnd('/').Split('/')[^1];

            await host.DisposeAsync();
            var checkpoint = runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId));
            var header = await Drops.WaitForAsync(async () => await checkpoint.ExistsAsync()
                ? Checkpoint.Read((await checkpoint.DownloadContentAsync()).Value.Content.ToStream(), new HashSet<string>()).header : null,
                TimeSpan.FromSeconds(60), "the checkpoint of the stopped chunk");

            Assert.InRange(header.Step, 20, 9_999); // saved where it stopped, not at the chunk's end
            Assert.False(await runs.GetBlobClient(StorageLayout.RunChunk(dataset, runId, 0)).ExistsAsync(),
                "the stopped chunk wrote a finished-chunk record; it must run again from its checkpoint");
        }
        finally { await host.DisposeAsync(); }
    }
}
