using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Train;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// The steps of a run, as the orchestration calls them. Tests swap in their own to steer control flow. The token is
/// the host's shutdown: a chunk stops at a step boundary and keeps its checkpoint.
/// </summary>
public interface IPipelineActivities
{
    /// <summary>When the newest blob under training-images/{dataset}/ was written, or null when there is none.</summary>
    Task<DateTimeOffset?> NewestDropAsync(string dataset, CancellationToken cancellationToken);
    Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken);
    Task<ChunkResult> TrainChunkAsync(ChunkRequest request, CancellationToken cancellationToken);
    Task<EvaluateResult> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken);
    Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken);
}
