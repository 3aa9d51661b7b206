using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Orchestration;

// The orchestrator and its activities pass each other names of blobs and small numbers, never images or
// tensors, so the durable history stays small. Each step's request and result live beside the step.

/// <summary>How the pipeline paces itself. Set once from configuration by whoever starts the orchestration.</summary>
public sealed record PipelineSettings
{
    /// <summary>Uploads must be quiet this long before a run ingests.</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a finished run waits for a last signal before it completes.</summary>
    public TimeSpan FollowUpWait { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>One training activity trains at most this many steps...</summary>
    public int ChunkSteps { get; init; } = 500;
    /// <summary>...or this long, whichever comes first: a recycled worker loses at most one chunk.</summary>
    public TimeSpan ChunkTime { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Chunks per orchestration generation before ContinueAsNew trims the history.</summary>
    public int ChunksPerGeneration { get; init; } = 20;
    /// <summary>Generated images scored per evaluation (and for re-scoring latest): FD's bias shrinks with the count, its cost grows.</summary>
    public int EvalSamples { get; init; } = 2000;
    /// <summary>Training steps of a dataset version's self-supervised feature extractor (made once per version).</summary>
    public int ExtractorSteps { get; init; } = 400;
    /// <summary>What one training request may ask for (epochs, steps, time, model size): Pipeline__Limits__MaxEpochs and so on.</summary>
    public TrainingLimits Limits { get; init; } = new();
    public int MaxAttempts { get; init; } = 4;
    public TimeSpan FirstRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        if (QuietPeriod < TimeSpan.Zero || QuietPeriod > TimeSpan.FromDays(1)) throw new ArgumentException($"quiet period {QuietPeriod} is outside 0..1 day");
        if (FollowUpWait <= TimeSpan.Zero || FollowUpWait > TimeSpan.FromMinutes(1)) throw new ArgumentException($"follow-up wait {FollowUpWait} is outside (0, 1 minute]");
        if (ChunkSteps < 1) throw new ArgumentException($"chunk steps {ChunkSteps} must be at least 1");
        if (ChunkTime <= TimeSpan.Zero) throw new ArgumentException($"chunk time {ChunkTime} must be positive");
        if (ChunksPerGeneration < 1) throw new ArgumentException($"chunks per generation {ChunksPerGeneration} must be at least 1");
        if (EvalSamples < 100 || EvalSamples > 50_000) throw new ArgumentException($"eval samples {EvalSamples} is outside 100..50000");
        if (ExtractorSteps < 1 || ExtractorSteps > 100_000) throw new ArgumentException($"extractor steps {ExtractorSteps} is outside 1..100000");
        Limits.Validate();
        if (MaxAttempts < 1) throw new ArgumentException($"max attempts {MaxAttempts} must be at least 1");
    }
}
