using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Models;

namespace ImageGen.Pipeline.Storage;

/// <summary>Small JSON records in blobs, written and read with the project's one JSON style.</summary>
public static class BlobJson
{
    public static Task UploadJsonAsync(this BlobClient blob, object value, CancellationToken cancellationToken = default) =>
        blob.UploadAsync(BinaryData.FromObjectAsJson(value, Json.Options), overwrite: true, cancellationToken);

    public static async Task<T?> TryReadJsonAsync<T>(this BlobClient blob, CancellationToken cancellationToken = default) where T : class
    {
        try
        {
            var content = await blob.DownloadContentAsync(cancellationToken);
            return content.Value.Content.ToObjectFromJson<T>(Json.Options);
        }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    public static async Task<string?> TryReadTextAsync(this BlobClient blob, CancellationToken cancellationToken = default)
    {
        try { return (await blob.DownloadContentAsync(cancellationToken)).Value.Content.ToString(); }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    /// <summary>
    /// The blob's text, or null when there is none. Reads at most one byte past <paramref name="maxBytes"/> (a ranged
    /// read), so an oversized blob costs no more than the limit; it throws InvalidDataException naming the blob and the limit.
    /// </summary>
    public static async Task<string?> TryReadTextAsync(this BlobClient blob, long maxBytes, CancellationToken cancellationToken = default)
    {
        BlobDownloadResult content;
        try { content = (await blob.DownloadContentAsync(new BlobDownloadOptions { Range = new HttpRange(0, maxBytes + 1) }, cancellationToken)).Value; }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
        catch (RequestFailedException e) when (e.Status == 416) { return ""; } // an empty blob has no byte 0 to range over
        if (content.Content.ToMemory().Length > maxBytes)
        {
            string total = content.Details.ContentRange?.Split('/') is [_, var size] && size != "*" ? size : $"over {maxBytes}";
            throw new InvalidDataException($"'{blob.BlobContainerName}/{blob.Name}' is {total} bytes, over the {maxBytes}-byte limit");
        }
        return content.Content.ToString();
    }
}

/// <summary>
/// A run's progress blob, written at most every <c>interval</c> from a background loop, so reporting never
/// slows the work that reports. The status endpoint reads it for live numbers between orchestration events.
/// </summary>
public sealed class ProgressBlob : IAsyncDisposable
{
    private readonly BlobClient blob;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private object? pending;

    public ProgressBlob(BlobClient blob, TimeSpan interval)
    {
        this.blob = blob;
        loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try { await Task.Delay(interval, stop.Token); } catch (OperationCanceledException) { }
                await WriteAsync();
            }
        });
    }

    public void Report(object progress) => Interlocked.Exchange(ref pending, progress);

    private async Task WriteAsync()
    {
        if (Interlocked.Exchange(ref pending, null) is not { } progress) return;
        try { await blob.UploadJsonAsync(progress); }
        catch (RequestFailedException) { } // progress is best effort; the work goes on
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        await loop;
        stop.Dispose();
    }
}
