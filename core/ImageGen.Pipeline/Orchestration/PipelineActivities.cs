using Azure.Storage.Blobs;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Train;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>The steps of a run, as the orchestration calls them. Tests swap in their own to steer control flow.</summary>
public interface IPipelineActivities
{
    /// <summary>When the newest blob under training-images/{dataset}/ was written, or null when there is none.</summary>
    Task<DateTimeOffset?> NewestDropAsync(string dataset);
    Task<IngestResult> IngestAsync(IngestRequest request);
    Task<ChunkResult> TrainChunkAsync(ChunkRequest request);
    Task<EvaluateResult> EvaluateAsync(EvaluateRequest request);
    Task<PublishResult> PublishAsync(PublishRequest request);
}

/// <summary>The real steps over blob storage: check for fresh uploads, ingest, train a chunk, evaluate, publish.</summary>
public sealed class PipelineActivities : IPipelineActivities
{
    public const string NewestDrop = "NewestDrop";
    public const string Ingest = "Ingest";
    public const string TrainChunk = "TrainChunk";
    public const string Evaluate = "Evaluate";
    public const string Publish = "Publish";

    private readonly DatasetIngestor ingestor;
    private readonly RunTrainer trainer;
    private readonly RunPublisher publisher;

    public PipelineActivities(BlobServiceClient service)
    {
        ingestor = new DatasetIngestor(service);
        trainer = new RunTrainer(service, ingestor);
        publisher = new RunPublisher(service, new ModelRegistry(service));
    }

    public Task<DateTimeOffset?> NewestDropAsync(string dataset) => ingestor.NewestDropAsync(dataset);
    public Task<IngestResult> IngestAsync(IngestRequest request) => ingestor.IngestAsync(request);
    public Task<ChunkResult> TrainChunkAsync(ChunkRequest request) => trainer.TrainChunkAsync(request);
    public Task<EvaluateResult> EvaluateAsync(EvaluateRequest request) => trainer.EvaluateAsync(request);
    public Task<PublishResult> PublishAsync(PublishRequest request) => publisher.PublishAsync(request);
}
