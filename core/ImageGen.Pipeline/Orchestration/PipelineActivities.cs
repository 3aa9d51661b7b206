using Azure.Storage.Blobs;
using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Train;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>The real steps over blob storage: check for fresh uploads, ingest, train a chunk, evaluate, publish.</summary>
public sealed class PipelineActivities : IPipelineActivities
{
    // Activity names: PipelineRegistry's table pairs each with its handler; the Functions wrappers are named by them.
    public const string NewestDrop = "NewestDrop";
    public const string Ingest = "Ingest";
    public const string TrainChunk = "TrainChunk";
    public const string Evaluate = "Evaluate";
    public const string Publish = "Publish";

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
    public Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken) => ingestor.IngestAsync(request, cancellationToken);
    public Task<ChunkResult> TrainChunkAsync(ChunkRequest request, CancellationToken cancellationToken) => trainer.TrainChunkAsync(request, cancellationToken);
    public Task<EvaluateResult> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken) => evaluator.EvaluateAsync(request, cancellationToken);
    public Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken) => publisher.PublishAsync(request, cancellationToken);
}
