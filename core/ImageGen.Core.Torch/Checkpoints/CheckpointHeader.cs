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
    /// <summary>The class names of a class-conditional model, by index (Spec.Classes of them); empty otherwise.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];
    /// <summary>
    /// The training images of each class, by index, which set how often sampling without a class draws each one
    /// (ClassConditioning.FromSeeds). Empty for an unconditional model and in checkpoints saved before it was recorded,
    /// which draw their classes uniformly.
    /// </summary>
    public IReadOnlyList<int> ClassSizes { get; init; } = [];
    /// <summary>The published version a warm-started run began from (dataset/version), else null.</summary>
    public string? WarmStartedFrom { get; init; }
    /// <summary>How the run started, in words: "warm start from ..." or "fresh start: " and why.</summary>
    public string? StartNote { get; init; }
    public DateTimeOffset SavedAt { get; init; }
    public string TorchSharpVersion { get; init; } = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";
}
