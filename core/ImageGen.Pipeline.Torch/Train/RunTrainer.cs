using Azure.Storage.Blobs;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;

namespace ImageGen.Pipeline.Train;

/// <summary>
/// The training step. A chunk downloads the run's last checkpoint from
/// checkpoints/{dataset}/{runId}/, trains a bounded number of steps or minutes with core's Trainer (whose resume
/// is bit-exact), and uploads the next checkpoint, the newest sample grid and a chunk record. A redelivered
/// chunk finds its record and returns it without training again; a killed one is simply run again from the
/// last checkpoint. A cancel marker blob stops the chunk within a couple of seconds, checkpoint kept.
/// The first chunk of a run warm-starts from the dataset's latest published model when the specs match (WarmStart).
/// A run with clusters (TrainOptions.Clusters) on unlabelled data trains on the clusters of the dataset version's
/// extractor, the one its evaluation scores with (QualityReferences): made by the first chunk, and the same clusters
/// found again by every later one. A run that warm-starts from a model trained on an earlier version's clusters keeps
/// those clusters instead, its images labelled by their nearest centre (ImageClusters.LabelLike), so the classes mean what
/// the model learnt; the checkpoint's ClustersFrom says whose clusters a run trains on.
/// </summary>
public sealed class RunTrainer(BlobServiceClient service)
{
    private readonly PackedDatasets datasets = new(service);
    private readonly ModelRegistry registry = new(service);
    private readonly QualityReferences references = new(service);
    public static readonly TimeSpan CancelPollInterval = TimeSpan.FromSeconds(1);
    private readonly BlobContainerClient runs = service.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

    /// <summary>
    /// The shards labelled by the clusters of dataset version clustersFrom in its extractor's feature space: by k-means
    /// where that is the run's own version, by the nearest of the other version's cluster centres otherwise. Null where
    /// clusters do not apply, or, with the reason, where the shards leave one of the other version's clusters empty.
    /// </summary>
    private async Task<(ImageTensorDataset? Data, string? WhyNot)> ClusteredAsync(string dataset, ChunkRequest request, string clustersFrom,
        ImageTensorDataset shards, Core.Models.TrainOptions options, IProgress<string> progress, CancellationToken cancellationToken)
    {
        if (!ImageClusters.Apply(shards, options)) return (null, null);
        int k = options.Clusters!.Value;
        if (clustersFrom == request.DatasetVersion)
        {
            using var own = await references.GetAsync(dataset, clustersFrom, shards, request.ExtractorSteps, progress, cancellationToken);
            return (ImageClusters.Label(shards, k, own.Reference.Training, progress), null); // the stored features: no feature pass
        }
        using var sourceShards = DatasetLoader.ReadShards(await datasets.DownloadAsync(dataset, clustersFrom, cancellationToken));
        if (!ImageClusters.Apply(sourceShards, options)) return (null, $"dataset version {clustersFrom} has classes of its own, not clusters");
        using var source = await references.GetAsync(dataset, clustersFrom, sourceShards, request.ExtractorSteps, progress, cancellationToken);
        using var sourceClusters = ImageClusters.Label(sourceShards, k, source.Reference.Training, progress);
        var carried = ImageClusters.LabelLike(shards, sourceClusters, source.Extractor, out string? whyNot, source.Reference.Training);
        if (carried is not null)
            progress.Report($"clusters: the {shards.Count} images labelled by the nearest of dataset version {clustersFrom}'s {sourceClusters.ClassNames.Count} clusters, " +
                            $"of {string.Join(", ", carried.ClassSizes())} images");
        return (carried, whyNot);
    }

    public async Task<ChunkResult> TrainChunkAsync(ChunkRequest request, CancellationToken cancellationToken = default)
    {
        string dataset = StorageLayout.ValidateName(request.Dataset, "dataset");
        string runId = StorageLayout.ValidateName(request.RunId, "run id");
        await runs.EnsureExistsAsync(cancellationToken);
        var record = runs.GetBlobClient(StorageLayout.RunChunk(dataset, runId, request.Chunk));
        if (await record.TryReadJsonAsync<ChunkResult>(cancellationToken) is { } done) return done; // redelivered after it finished

        string dataFolder = await datasets.DownloadAsync(dataset, request.DatasetVersion, cancellationToken);
        string runFolder = Path.Combine(Path.GetTempPath(), "imagegen-runs", LocalDisk.OwnedName($"{dataset}-{runId}-{request.Chunk}-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(runFolder);
        try
        {
            var checkpointBlob = runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId));
            string checkpointPath = Path.Combine(runFolder, Checkpoint.FileName);
            if (await checkpointBlob.ExistsAsync(cancellationToken)) await checkpointBlob.DownloadToAsync(checkpointPath, cancellationToken);

            var (spec, userOptions) = request.Settings;
            using var shards = DatasetLoader.ReadShards(dataFolder);
            var plan = TrainingPlan.For(spec, userOptions, shards.Count);
            int batch = plan.BatchSize;
            long? totalSteps = plan.TotalSteps;
            var trainedBefore = TimeSpan.FromSeconds(request.TrainedSeconds);
            var resumeFrom = File.Exists(checkpointPath) ? Checkpoint.ReadHeader(checkpointPath) : null;
            userOptions = ImageClusters.Resolve(userOptions, spec.Kind, shards, resumeFrom);
            long fromStep = resumeFrom?.Step ?? 0;
            // The orchestration says where the run stands (the last chunk record's step). A checkpoint past it was
            // uploaded by an attempt of this chunk that died before writing its record: that attempt's training
            // stands, and the chunk is recorded as done without training again on top of it.
            if (fromStep < request.FromStep)
                throw new InvalidOperationException($"run {runId}'s checkpoint is at step {fromStep}, behind step {request.FromStep} that chunk {request.Chunk} starts from");
            long chunkEnd = Math.Min(userOptions.MaxSteps ?? long.MaxValue, request.FromStep + request.ChunkSteps);

            var chunkTime = request.ChunkTime;
            if (userOptions.TimeBudget is { } budget)
                chunkTime = TimeSpan.FromSeconds(Math.Max(1, Math.Min(chunkTime.TotalSeconds, budget.TotalSeconds - request.TrainedSeconds)));
            var chunkOptions = userOptions with
            {
                MaxSteps = chunkEnd,
                TimeBudget = chunkTime,
            };

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var cancelMarker = runs.GetBlobClient(StorageLayout.RunCancel(dataset, runId));
            var watcher = WatchForCancelAsync(cancelMarker, stop);
            await using var progressBlob = new ProgressBlob(runs.GetBlobClient(StorageLayout.RunProgress(dataset, runId)), TimeSpan.FromSeconds(2));
            var progress = new Progress<TrainingProgress>(p => progressBlob.Report(new
            {
                stage = "training", epoch = p.Epoch, step = p.Step, totalSteps, losses = p.Losses, imagesPerSecond = p.ImagesPerSecond,
                etaSeconds = plan.Eta(p.Step, p.ImagesPerSecond / batch, trainedBefore + p.Elapsed)?.TotalSeconds, chunk = request.Chunk,
            }));
            var clustering = new Progress<string>(message => progressBlob.Report(new { stage = "clustering", message, chunk = request.Chunk }));
            var (start, clustered) = resumeFrom is null
                ? await StartAsync(dataset, request, spec, userOptions, shards, runFolder, clustering, cancellationToken)
                : (new WarmStart(null, null, resumeFrom.StartNote, resumeFrom.ClustersFrom),
                   await ResumedClustersAsync(dataset, request, resumeFrom, shards, userOptions, clustering, cancellationToken));
            using var ownedClusters = clustered;
            var data = clustered ?? shards;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = fromStep > request.FromStep
                ? new TrainResult(runFolder, checkpointPath, fromStep, resumeFrom!.Epoch, fromStep >= chunkEnd ? StopReason.MaxSteps : StopReason.TimeBudget, null, resumeFrom.Seed)
                : await Task.Factory.StartNew(() => Trainer.Run(new TrainRequest
                {
                    Data = data, Spec = spec, Options = chunkOptions, RunFolder = runFolder, Resume = true,
                    InitFrom = start.Path, InitFromName = start.Name, StartNote = start.Note, ClustersFrom = start.ClustersFrom,
                }, progress, stop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            double seconds = clock.Elapsed.TotalSeconds;
            stop.Cancel();
            bool cancelled = await watcher || await cancelMarker.ExistsAsync(CancellationToken.None);
            // Host shutdown: the trainer stopped at a step boundary and saved; keep that checkpoint, then give the
            // chunk back unfinished (no record) so it runs again from there.
            var uploadToken = cancellationToken.IsCancellationRequested ? CancellationToken.None : cancellationToken;
            if (File.Exists(checkpointPath)) await checkpointBlob.UploadAsync(checkpointPath, overwrite: true, uploadToken);
            cancellationToken.ThrowIfCancellationRequested();
            string samples = Path.Combine(runFolder, "samples");
            string? newestGrid = Directory.Exists(samples)
                ? Directory.EnumerateFiles(samples, "fake_samples_*.png").Order(StringComparer.Ordinal).LastOrDefault() : null;
            if (newestGrid is not null)
                await runs.GetBlobClient(StorageLayout.RunSamples(dataset, runId)).UploadAsync(newestGrid, overwrite: true, cancellationToken);

            var trained = trainedBefore + TimeSpan.FromSeconds(seconds);
            var chunk = new ChunkResult
            {
                Chunk = request.Chunk, Step = result.Steps, Epoch = result.EpochsCompleted, TotalSteps = totalSteps, Cancelled = cancelled,
                Done = !cancelled && plan.Finishes(result.StopReason, result.Steps, trained), Divergence = result.Divergence,
                StopReason = cancelled ? StopReason.Cancelled : result.StopReason, Losses = result.LastMetrics?.Means ?? [],
                ImagesPerSecond = seconds > 0 ? (result.Steps - fromStep) * batch / seconds : 0, Seconds = seconds, Seed = result.Seed,
                Start = start.Note,
            };
            chunk = chunk with { EtaSeconds = plan.Eta(chunk.Step, chunk.ImagesPerSecond / batch, trained)?.TotalSeconds };
            // The training time alone (as the status's imagesPerSecond), and only for a chunk that trained: a redelivered
            // one that found its steps done in the checkpoint trained nothing.
            if (result.Steps > fromStep)
                ImageGenTelemetry.RecordChunk(dataset, spec.Kind.ToString(), TimeSpan.FromSeconds(seconds), (result.Steps - fromStep) * batch, chunk.Losses);
            await record.UploadJsonAsync(chunk, cancellationToken); // last: the chunk counts as done from here
            return chunk;
        }
        finally { Directory.Delete(runFolder, recursive: true); }
    }

    /// <summary>
    /// Where a run starts: a published checkpoint downloaded to Path, or nothing; Note says which and why. ClustersFrom is
    /// the dataset version whose clusters the run trains on, null where it does not train on clusters.
    /// </summary>
    private sealed record WarmStart(string? Path, string? Name, string? Note, string? ClustersFrom);

    /// <summary>
    /// A resumed run's clusters: those its checkpoint names (checkpoints saved before ClustersFrom was recorded trained on
    /// their own version's), found again from the same images and extractor. The sizes recorded in the checkpoint must come
    /// out again: a run never goes on training on other classes than it began with.
    /// </summary>
    private async Task<ImageTensorDataset?> ResumedClustersAsync(string dataset, ChunkRequest request, CheckpointHeader resumeFrom, ImageTensorDataset shards,
        Core.Models.TrainOptions options, IProgress<string> progress, CancellationToken cancellationToken)
    {
        string clustersFrom = resumeFrom.ClustersFrom ?? request.DatasetVersion;
        var (clustered, whyNot) = await ClusteredAsync(dataset, request, clustersFrom, shards, options, progress, cancellationToken);
        if (whyNot is not null) throw new InvalidOperationException($"run {request.RunId} trains on the clusters of dataset version {clustersFrom}, but {whyNot}");
        if (clustered is not null && resumeFrom.ClassSizes.Count > 0 && !clustered.ClassSizes().SequenceEqual(resumeFrom.ClassSizes))
        {
            string found = string.Join(", ", clustered.ClassSizes());
            clustered.Dispose();
            throw new InvalidOperationException($"run {request.RunId} trained on clusters of {string.Join(", ", resumeFrom.ClassSizes)} images " +
                                                $"(dataset version {clustersFrom}'s), and the same images now fall into clusters of {found}");
        }
        return clustered;
    }

    /// <summary>
    /// How a fresh run starts, and the clusters it trains on (null where it does not; the caller disposes them). It
    /// warm-starts from the latest published model of the dataset when warmStart is on and that model was trained as this
    /// run would be (same spec, same classes); otherwise it starts fresh, with the reason. A run on clusters warm-starts
    /// from a model trained on an earlier version's clusters by labelling its images with those clusters, when they fill
    /// every one; else it starts fresh on its own version's clusters.
    /// </summary>
    private async Task<(WarmStart Start, ImageTensorDataset? Clustered)> StartAsync(string dataset, ChunkRequest request, Core.Models.ModelSpec spec,
        Core.Models.TrainOptions options, ImageTensorDataset shards, string runFolder, IProgress<string> progress, CancellationToken cancellationToken)
    {
        var (own, _) = await ClusteredAsync(dataset, request, request.DatasetVersion, shards, options, progress, cancellationToken);
        ImageTensorDataset? carried = null;
        (WarmStart, ImageTensorDataset?) Fresh(string? note)
        {
            carried?.Dispose();
            return (new WarmStart(null, null, note, own is null ? null : request.DatasetVersion), own);
        }
        try
        {
            if (!options.WarmStart) return Fresh("fresh start: warmStart is off");
            var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
            if (latest.Pointer is not { } pointer) return Fresh("fresh start: the dataset has no published model yet");
            // The card says what the version is, so an incompatible model is never downloaded.
            if (await registry.ReadCardAsync(dataset, pointer.Version, cancellationToken) is not { } parent)
                return Fresh($"fresh start: the published {pointer.Version} has no model card");
            string name = $"{dataset}/{pointer.Version}";
            // Cards written before ClustersFrom was recorded trained on their own version's clusters.
            string? parentClusters = parent.Options?.Clusters is > 0 && parent.Classes.Count > 0 ? parent.ClustersFrom ?? parent.DatasetVersion : null;
            string? clustersFrom = own is null ? null : request.DatasetVersion;
            if (own is not null && parentClusters is not null && parentClusters != clustersFrom && parent.Options!.Clusters == options.Clusters)
            {
                if (!await datasets.ExistsAsync(dataset, parentClusters, cancellationToken))
                    return Fresh($"fresh start: the published {pointer.Version} was trained on the clusters of dataset version {parentClusters}, which is no longer stored");
                (carried, string? whyNot) = await ClusteredAsync(dataset, request, parentClusters, shards, options, progress, cancellationToken);
                if (carried is null)
                    return Fresh($"fresh start: the published {pointer.Version} was trained on the clusters of dataset version {parentClusters}, and {whyNot}");
                clustersFrom = parentClusters;
            }
            var data = carried ?? own ?? shards;
            Core.Models.ModelSpec wanted;
            try { wanted = Trainer.WithClasses(spec, options, data); }
            catch (ArgumentException) { return Fresh(null); } // the trainer refuses this run with its own message
            if (parent.Spec != wanted)
                return Fresh($"fresh start: the published {pointer.Version} is {Trainer.Describe(parent.Spec)}, this run is {Trainer.Describe(wanted)}");
            if (wanted.Classes > 0 && !parent.Classes.SequenceEqual(data.ClassNames))
                return Fresh($"fresh start: the published {pointer.Version} has classes {string.Join(", ", parent.Classes)}, the data has {string.Join(", ", data.ClassNames)}");
            // Clusters of the same names are other clusters when another version or another count made them.
            if (clustersFrom is not null && (parentClusters != clustersFrom || parent.Options!.Clusters != options.Clusters))
                return Fresh($"fresh start: the published {pointer.Version} was not trained on this run's clusters ({options.Clusters} of dataset version {clustersFrom})");
            string path = Path.Combine(runFolder, "warm-start.ckpt");
            await using (var source = await registry.OpenCheckpointAsync(dataset, pointer.Version, cancellationToken))
            await using (var target = File.Create(path))
                await source.CopyToAsync(target, cancellationToken);
            string note = $"warm start from {name} (step {parent.Steps})" + (carried is null ? "" : $", on the clusters of dataset version {clustersFrom}");
            if (carried is not null) own?.Dispose();
            return (new WarmStart(path, name, note, clustersFrom), carried ?? own);
        }
        catch
        {
            own?.Dispose();
            carried?.Dispose();
            throw;
        }
    }

    /// <summary>Polls the cancel marker; cancels the chunk when it appears. True when it did.</summary>
    private static async Task<bool> WatchForCancelAsync(BlobClient marker, CancellationTokenSource stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (await marker.ExistsAsync(stop.Token)) { stop.Cancel(); return true; }
                await Task.Delay(CancelPollInterval, stop.Token);
            }
            catch (OperationCanceledException) { break; }
            catch (Azure.RequestFailedException) { } // a storage hiccup must not stop training
        }
        return false;
    }
}
