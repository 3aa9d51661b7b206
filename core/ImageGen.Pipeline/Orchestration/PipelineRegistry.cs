using Microsoft.DurableTask;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// The one list of the pipeline's orchestrator and activities. The local host and the tests register from it;
/// the Functions app declares a thin wrapper per name, and a test checks its functions.metadata against Names.
/// </summary>
public static class PipelineRegistry
{
    public static readonly string[] Names =
        [DatasetPipeline.Name, PipelineActivities.NewestDrop, PipelineActivities.Ingest, PipelineActivities.TrainChunk, PipelineActivities.Evaluate, PipelineActivities.Publish];

    public static DurableTaskRegistry AddPipeline(this DurableTaskRegistry registry, IPipelineActivities activities)
    {
        registry.AddOrchestratorFunc<PipelineInput, PipelineOutcome>(DatasetPipeline.Name, (context, input) => DatasetPipeline.RunAsync(context, input));
        registry.AddActivityFunc<string, DateTimeOffset?>(PipelineActivities.NewestDrop, (_, dataset) => activities.NewestDropAsync(dataset));
        registry.AddActivityFunc<IngestRequest, IngestResult>(PipelineActivities.Ingest, (_, request) => activities.IngestAsync(request));
        registry.AddActivityFunc<ChunkRequest, ChunkResult>(PipelineActivities.TrainChunk, (_, request) => activities.TrainChunkAsync(request));
        registry.AddActivityFunc<EvaluateRequest, EvaluateResult>(PipelineActivities.Evaluate, (_, request) => activities.EvaluateAsync(request));
        registry.AddActivityFunc<PublishRequest, PublishResult>(PipelineActivities.Publish, (_, request) => activities.PublishAsync(request));
        return registry;
    }
}
