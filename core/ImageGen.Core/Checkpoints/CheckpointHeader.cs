using ImageGen.Core.Models;
using TorchSharp;

namespace ImageGen.Core.Checkpoints;

/// <summary>What a checkpoint says about itself, read without loading any weights.</summary>
public sealed record CheckpointHeader
{
    public required ModelSpec Spec { get; init; }
    public required TrainOptions Options { get; init; }
    public long Step { get; init; }
    /// <summary>Epochs completed; training resumes inside epoch Epoch+1 at StepInEpoch.</summary>
    public int Epoch { get; init; }
    public int StepInEpoch { get; init; }
    public int Seed { get; init; }
    public DateTimeOffset SavedAt { get; init; }
    public string TorchSharpVersion { get; init; } = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";
}
