using System.Diagnostics;
using Azure.Storage.Blobs;
using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;
using ImageGen.Pipeline.Train;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>The real steps over blob storage: check for fresh uploads, ingest, train a chunk, evaluate, publish.</summary>
public sealed class PipelineActivities : IPipelineActivities
{
    private readonly DatasetIngestor ingestor;
    private readonly RunTrainer trainer;
    private readonly RunEvaluator evaluator;
    private readonly RunPublisher publisher;

    public PipelineActivities(BlobServiceClient service)
    {
        LocalDisk.Sweep(); // start-up: what a crash left in the temp folder, and caches past their age or size
        ingestor = new DatasetIngestor(service);
        trainer = new RunTrainer(service);
        evaluator = new RunEvaluator(service);
        publisher = new RunPublisher(service, new ModelRegistry(service));
    }

    public Task<DateTimeOffset?> NewestDropAsync(string dataset, CancellationToken cancellationToken) => ingestor.NewestDropAsync(dataset, cancellationToken);

    public Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken) => TracedAsync(ActivityNames.Ingest, request.Dataset, async () =>
    {
        var result = await ingestor.IngestAsync(request, cancellationToken);
        ImageGenTelemetry.RecordIngest(request.Dataset, result.Accepted, result.Rejected);
        return result;
    });

    public Task<ChunkResult> TrainChunkAsync(ChunkRequest request, CancellationToken cancellationToken) =>
        TracedAsync(ActivityNames.TrainChunk, request.Dataset, () => trainer.TrainChunkAsync(request, cancellationToken));

    public Task<EvaluateResult> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken) =>
        TracedAsync(ActivityNames.Evaluate, request.Dataset, () => evaluator.EvaluateAsync(request, cancellationToken));

    public Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken) =>
        TracedAsync(ActivityNames.Publish, request.Dataset, () => publisher.PublishAsync(request, cancellationToken));

    /// <summary>
    /// One span per step (imagegen.ingest, imagegen.trainchunk, ...), a child of the durable activity's own span where
    /// the host traces (the Functions host's distributed tracing joins them to the orchestration and the drop).
    /// </summary>
    private static async Task<T> TracedAsync<T>(string step, string dataset, Func<Task<T>> run)
    {
        using var activity = ImageGenTelemetry.Source.StartActivity("imagegen." + step.ToLowerInvariant());
        activity?.SetTag("imagegen.dataset", dataset);
        try { return await run(); }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
    }
}
