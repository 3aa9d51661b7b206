using System.Diagnostics;
using Azure.Storage.Blobs;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Evaluate;

/// <summary>
/// The evaluation step: scores a finished run's generator against its dataset version (FD, KID, precision/recall,
/// memorization in the version's self-supervised feature space, plus pixel statistics), scores the dataset's current
/// latest version in the same space for the publish gate, and writes the grid that publishing uses. The result is
/// kept in the run folder, so a redelivered evaluation returns it without scoring again.
/// </summary>
public sealed class RunEvaluator(BlobServiceClient service)
{
    private readonly PackedDatasets datasets = new(service);
    private readonly QualityReferences references = new(service);
    private readonly ModelRegistry registry = new(service);
    private readonly BlobContainerClient runs = service.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

    public async Task<EvaluateResult> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken = default)
    {
        string dataset = StorageLayout.ValidateName(request.Dataset, "dataset");
        string runId = StorageLayout.ValidateName(request.RunId, "run id");
        var stored = runs.GetBlobClient(StorageLayout.RunEvaluation(dataset, runId));
        if (await stored.TryReadJsonAsync<EvaluateResult>(cancellationToken) is { } done) return done;

        string dataFolder = await datasets.DownloadAsync(dataset, request.DatasetVersion, cancellationToken);
        var checkpoint = (await runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId)).DownloadContentAsync(cancellationToken)).Value.Content;
        using var sampler = ImageSampler.Load(checkpoint.ToStream());
        using var data = DatasetLoader.ReadShards(dataFolder);
        var metrics = Evaluation.Evaluate(sampler, data, cancellationToken: cancellationToken);

        var clock = Stopwatch.StartNew();
        using var quality = await references.GetAsync(dataset, request.DatasetVersion, data, request.ExtractorSteps, cancellationToken: cancellationToken);
        double referenceSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var scores = QualityScoring.Of(sampler, quality.Extractor, quality.Reference, request.Samples, cancellationToken);
        double scoringSeconds = clock.Elapsed.TotalSeconds;
        var (baseline, baselineNote) = await ScoreLatestAsync(dataset, sampler.Spec, quality, request.Samples, cancellationToken);

        await runs.GetBlobClient(StorageLayout.RunEvaluationSamples(dataset, runId))
            .UploadAsync(BinaryData.FromBytes(Evaluation.SampleGridPng(sampler)), overwrite: true, cancellationToken);
        var result = new EvaluateResult(metrics)
        {
            Quality = scores, Baseline = baseline, BaselineNote = baselineNote, ReferenceCached = quality.Cached,
            ReferenceSeconds = referenceSeconds, ScoringSeconds = scoringSeconds,
        };
        await stored.UploadJsonAsync(result, cancellationToken);
        return result;
    }

    /// <summary>The current latest version's FD in this run's feature space, so the gate compares like with like.</summary>
    private async Task<(BaselineScore?, string?)> ScoreLatestAsync(string dataset, ModelSpec spec, LoadedQualityReference quality, int samples,
        CancellationToken cancellationToken)
    {
        var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
        if (latest.Pointer is not { } pointer) return (null, null);
        await using var checkpoint = await registry.OpenCheckpointAsync(dataset, pointer.Version, cancellationToken);
        using var latestSampler = ImageSampler.Load(checkpoint);
        var other = latestSampler.Spec;
        if (other.ImageSize != spec.ImageSize || other.Channels != spec.Channels)
            return (null, $"latest {pointer.Version} makes {other.ImageSize}x{other.ImageSize}x{other.Channels} images and this run " +
                          $"{spec.ImageSize}x{spec.ImageSize}x{spec.Channels}: their scores cannot be compared");
        var card = await registry.ReadCardAsync(dataset, pointer.Version, cancellationToken); // before the costly scoring
        QualityScores scores;
        try { scores = QualityScoring.Of(latestSampler, quality.Extractor, quality.Reference, samples, cancellationToken); }
        catch (NonFiniteSamplesException e)
        {
            return (null, $"latest {pointer.Version} cannot be scored: {e.Message}");
        }
        return (new BaselineScore(pointer.Version, scores.Fd) { FdAboveBest = BaselineScore.CarriedFdAboveBest(pointer, card) }, null);
    }
}
