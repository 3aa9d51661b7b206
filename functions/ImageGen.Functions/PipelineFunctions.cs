using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Train;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace ImageGen.Functions;

/// <summary>
/// The orchestrator and activity wrappers (names from PipelineRegistry), in the full build only: the activities train
/// on libtorch. Each binds and calls one Pipeline method. Activities take the worker's shutdown token, so a recycled
/// instance stops a chunk at a step boundary with its checkpoint.
/// </summary>
public sealed class PipelineFunctions(PipelineActivities activities)
{
    [Function(DatasetPipeline.Name)]
    public Task<PipelineOutcome> RunPipeline([OrchestrationTrigger] TaskOrchestrationContext context) =>
        DatasetPipeline.RunAsync(context, context.GetInput<PipelineInput>()!);

    [Function(ActivityNames.NewestDrop)]
    public Task<DateTimeOffset?> NewestDrop([ActivityTrigger] string dataset, CancellationToken cancellationToken) =>
        activities.NewestDropAsync(dataset, cancellationToken);

    [Function(ActivityNames.Ingest)]
    public Task<IngestResult> Ingest([ActivityTrigger] IngestRequest request, CancellationToken cancellationToken) =>
        activities.IngestAsync(request, cancellationToken);

    [Function(ActivityNames.TrainChunk)]
    public Task<ChunkResult> TrainChunk([ActivityTrigger] ChunkRequest request, CancellationToken cancellationToken) =>
        activities.TrainChunkAsync(request, cancellationToken);

    [Function(ActivityNames.Evaluate)]
    public Task<EvaluateResult> Evaluate([ActivityTrigger] EvaluateRequest request, CancellationToken cancellationToken) =>
        activities.EvaluateAsync(request, cancellationToken);

    [Function(ActivityNames.Publish)]
    public Task<PublishResult> Publish([ActivityTrigger] PublishRequest request, CancellationToken cancellationToken) =>
        activities.PublishAsync(request, cancellationToken);
}
