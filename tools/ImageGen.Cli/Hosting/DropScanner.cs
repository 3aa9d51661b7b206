using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// The local host's blob trigger: scans training-images every interval and signals the dataset of every blob
/// newer than the last scan (TrainingControl throttles per dataset). The watermark lives in storage, so
/// images dropped while the host was down are noticed when it starts.
/// </summary>
public sealed class DropScanner(BlobServiceClient storage, TrainingControl control, TimeSpan interval, ILogger<DropScanner> logger) : BackgroundService
{
    private sealed record Watermark(DateTimeOffset Through);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var drops = storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        // ".host" cannot be a dataset name, so it never collides with a run folder.
        var watermarkBlob = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer).GetBlobClient(".host/drop-watermark.json");
        var through = (await watermarkBlob.TryReadJsonAsync<Watermark>(stoppingToken))?.Through ?? DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var newest = through;
                var fresh = new List<string>();
                await foreach (var blob in drops.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, stoppingToken))
                {
                    if (blob.Properties.LastModified is not { } modified || modified <= through) continue;
                    fresh.Add(blob.Name);
                    if (modified > newest) newest = modified;
                }
                foreach (var name in fresh)
                    logger.LogInformation("{Result}", await control.OnImageDroppedAsync(name, stoppingToken));
                if (newest > through)
                {
                    through = newest;
                    await watermarkBlob.UploadJsonAsync(new Watermark(through), stoppingToken);
                }
            }
            catch (RequestFailedException e) { logger.LogWarning("scanning {Container} failed: {Status} {Code}", StorageLayout.TrainingImagesContainer, e.Status, e.ErrorCode); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            try { await Task.Delay(interval, stoppingToken); } catch (OperationCanceledException) { break; }
        }
    }
}
