using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Train;
using Microsoft.DurableTask;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// The one table of the pipeline's orchestrator and activities: each activity's name with its handler. The local
/// host and the tests register from it; the Functions app declares a thin wrapper per name, and a test checks its
/// functions.metadata against Names. Adding an activity: a method on IPipelineActivities, a line here, a wrapper.
/// </summary>
public static class PipelineRegistry
{
    private static readonly PipelineActivity[] Activities =
    [
        PipelineActivity.Of<string, DateTimeOffset?>(ActivityNames.NewestDrop, (a, dataset, ct) => a.NewestDropAsync(dataset, ct)),
        PipelineActivity.Of<IngestRequest, IngestResult>(ActivityNames.Ingest, (a, request, ct) => a.IngestAsync(request, ct)),
        PipelineActivity.Of<ChunkRequest, ChunkResult>(ActivityNames.TrainChunk, (a, request, ct) => a.TrainChunkAsync(request, ct)),
        PipelineActivity.Of<EvaluateRequest, EvaluateResult>(ActivityNames.Evaluate, (a, request, ct) => a.EvaluateAsync(request, ct)),
        PipelineActivity.Of<PublishRequest, PublishResult>(ActivityNames.Publish, (a, request, ct) => a.PublishAsync(request, ct)),
    ];

    public static readonly string[] Names = [DatasetPipeline.Name, .. Activities.Select(a => a.Name)];

    /// <param name="stopping">The host's shutdown, handed to every activity (the standalone worker has no token of its own).</param>
    public static DurableTaskRegistry AddPipeline(this DurableTaskRegistry registry, IPipelineActivities activities, CancellationToken stopping = default)
    {
        registry.AddOrchestratorFunc<PipelineInput, PipelineOutcome>(DatasetPipeline.Name, (context, input) => DatasetPipeline.RunAsync(context, input));
        foreach (var activity in Activities) activity.Register(registry, activities, stopping);
        return registry;
    }

    private abstract record PipelineActivity(string Name)
    {
        public static PipelineActivity Of<TIn, TOut>(string name, Func<IPipelineActivities, TIn, CancellationToken, Task<TOut>> handler) =>
            new Typed<TIn, TOut>(name, handler);

        public abstract void Register(DurableTaskRegistry registry, IPipelineActivities activities, CancellationToken stopping);

        private sealed record Typed<TIn, TOut>(string Name, Func<IPipelineActivities, TIn, CancellationToken, Task<TOut>> Handler) : PipelineActivity(Name)
        {
            // The declared input type matters: the standalone worker's GetInput<T>() is a hard cast.
            public override void Register(DurableTaskRegistry registry, IPipelineActivities activities, CancellationToken stopping) =>
                registry.AddActivityFunc<TIn, TOut>(Name, (_, input) => Handler(activities, input, stopping));
        }
    }
}
