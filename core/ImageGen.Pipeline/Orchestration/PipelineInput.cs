namespace ImageGen.Pipeline.Orchestration;

/// <summary>The orchestration's input, one per generation (ContinueAsNew carries it forward).</summary>
public sealed record PipelineInput
{
    public required string Dataset { get; init; }
    public PipelineSettings Settings { get; init; } = new();
    /// <summary>Wait for uploads to go quiet before ingesting (a drop); false for an explicit HTTP request.</summary>
    public bool WaitForQuiet { get; init; } = true;
    /// <summary>Options JSON from an HTTP request, laid over the dataset's imagegen.json.</summary>
    public string? OptionsJson { get; init; }
    /// <summary>A run in the middle of training, carried across ContinueAsNew.</summary>
    public RunState? Run { get; init; }
    /// <summary>The status of the run before this generation, shown until a new run starts.</summary>
    public TrainingStatus? LastStatus { get; init; }
}
