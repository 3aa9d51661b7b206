using System.Diagnostics;
using Azure;
using Azure.Storage.Blobs;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Tests;

/// <summary>
/// kill -9 in the middle of a training chunk: the durable state in storage lets a restarted host resume from the
/// last checkpoint, finish and publish, without running ingest or finished chunks again.
/// </summary>
public class PipelineCrashTests : IDisposable
{
    private readonly AzuriteFixture azurite = new();
    private readonly List<Process> hosts = [];
    private readonly System.Text.StringBuilder log = new();

    private Process StartHost()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "imagegen.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "host", "--storage", azurite.ConnectionString, "--urls", "http://127.0.0.1:0",
                             "--task-hub", "CrashTest", "--quiet", "1s", "--poll", "1s", "--chunk-steps", "100", "--chunk-time", "25s",
                             "--activity-lock", "30s", "--threads", "2", "--verbose" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        hosts.Add(process);
        return process;
    }

    private static async Task<ETag?> ETagAsync(BlobClient blob)
    {
        try { return (await blob.GetPropertiesAsync()).Value.ETag; }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    [Fact]
    public async Task A_host_killed_mid_chunk_resumes_from_the_last_checkpoint_after_restart_without_rerunning_finished_steps()
    {
        try { await KillAndResumeAsync(); }
        catch (Exception e) when (e is TimeoutException or Xunit.Sdk.XunitException) { lock (log) throw new Exception(e.Message + "\nhost output:\n" + log, e); }
    }

    private async Task KillAndResumeAsync()
    {
        const string dataset = "crash";
        var storage = azurite.Client();
        await Drops.UploadOptionsAsync(storage, dataset, ", \"maxSteps\": 300");
        await Drops.UploadImagesAsync(storage, dataset, 0, 32);
        var first = StartHost();

        var runs = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);
        await runs.CreateIfNotExistsAsync();
        // Wait until chunk 0 is recorded and chunk 1 is training past its first steps.
        string chunk0 = await Drops.WaitForAsync(async () =>
        {
            if (first.HasExited) throw new TimeoutException($"the host exited with {first.ExitCode}");
            await foreach (var blob in runs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{dataset}/", default))
                if (blob.Name.EndsWith("/chunk-00000.json")) return blob.Name;
            return null;
        }, TimeSpan.FromSeconds(180), "the first chunk record");
        string runFolder = chunk0[..(chunk0.LastIndexOf('/') + 1)];
        string runId = runFolder.TrimEnd('/').Split('/')[^1];
        // Chunk 1 is under way: 10 steps past chunk 0's end (a chunk ends at 100 steps or 25 s, whichever comes first, so
        // on a slow or busy machine chunk 0 ends before step 100; a fixed step would fall in chunk 2 there).
        long chunk0End = (await runs.GetBlobClient(chunk0).DownloadContentAsync()).Value.Content.ToObjectFromJson<ImageGen.Pipeline.Train.ChunkResult>(Json.Options)!.Step;
        long killedAfter = 0;
        await Drops.WaitForAsync<object>(async () =>
        {
            if (await runs.GetBlobClient(runFolder + "progress.json").TryReadTextAsync() is not { } json) return null;
            var progress = System.Text.Json.JsonDocument.Parse(json).RootElement;
            killedAfter = progress.GetProperty("step").GetInt64();
            return progress.GetProperty("chunk").GetInt32() == 1 && killedAfter >= chunk0End + 10 ? json : null;
        }, TimeSpan.FromSeconds(120), "chunk 1 to get going");
        first.Kill(entireProcessTree: true); // SIGKILL: no shutdown, no final checkpoint
        await first.WaitForExitAsync();
        string scratch = Path.Combine(Path.GetTempPath(), "imagegen-runs");
        Assert.NotEmpty(Directory.EnumerateDirectories(scratch, $"pid{first.Id}-*")); // the killed chunk's run folder, left behind
        Assert.False(await runs.GetBlobClient(StorageLayout.RunChunk(dataset, runId, 1)).ExistsAsync(), "chunk 1 finished before the kill; the test proves nothing");

        var manifestBlob = storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).GetBlobClient(StorageLayout.PackedFolder(dataset, runId) + DatasetManifest.FileName);
        var manifestETag = await ETagAsync(manifestBlob);
        var chunk0ETag = await ETagAsync(runs.GetBlobClient(chunk0));
        var checkpointAtKill = Core.Checkpoints.Checkpoint.Read((await runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId)).DownloadContentAsync()).Value.Content.ToStream(), new HashSet<string>()).header;
        var chunk0Record = (await runs.GetBlobClient(chunk0).DownloadContentAsync()).Value.Content.ToObjectFromJson<ImageGen.Pipeline.Train.ChunkResult>(Json.Options)!;
        Assert.Equal(chunk0Record.Step, checkpointAtKill.Step); // the last checkpoint is chunk 0's
        Assert.InRange(checkpointAtKill.Step, 1, killedAfter - 10);

        StartHost();
        // The resumed run's chunks end at 100 steps or 25 s: on a busy machine it takes more chunks, so wait while the run
        // folder keeps changing (chunk records, checkpoints, progress, the evaluation) rather than for a fixed time.
        async Task<string> RunFolderState()
        {
            var state = new System.Text.StringBuilder();
            await foreach (var blob in runs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, runFolder, default))
                state.Append(blob.Name[runFolder.Length..]).Append('@').Append(blob.Properties.ETag).Append(' ');
            return state.ToString();
        }
        await Drops.WaitWhileProgressingAsync(async () => await Drops.LatestAsync(storage, dataset) is { Version: "v0001" } p ? p : null,
            RunFolderState, stallTimeout: TimeSpan.FromSeconds(180), overallTimeout: TimeSpan.FromMinutes(15), "crash v0001 to be published");
        var card = (await storage.GetBlobContainerClient(StorageLayout.ModelsContainer).GetBlobClient(StorageLayout.ModelCard(dataset, "v0001"))
            .DownloadContentAsync()).Value.Content.ToObjectFromJson<ModelCard>(Json.Options)!;
        Assert.Equal(runId, card.SourceRun); // the same run finished: no second ingest started a new one
        Assert.Empty(Directory.EnumerateDirectories(scratch, $"pid{first.Id}-*")); // swept when the new host started
        Assert.Equal(300, card.Steps);
        Assert.Equal(manifestETag, await ETagAsync(manifestBlob)); // ingest did not run again
        Assert.Equal(chunk0ETag, await ETagAsync(runs.GetBlobClient(chunk0))); // nor did the finished chunk
        for (int chunk = 1; chunk < 3; chunk++) Assert.True(await runs.GetBlobClient(StorageLayout.RunChunk(dataset, runId, chunk)).ExistsAsync());
    }

    public void Dispose()
    {
        foreach (var host in hosts)
        {
            try { if (!host.HasExited) { host.Kill(entireProcessTree: true); host.WaitForExit(10_000); } } catch (InvalidOperationException) { }
            host.Dispose();
        }
        azurite.Dispose();
    }
}
