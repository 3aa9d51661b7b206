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
    /// <summary>
    /// Where a model trained on clusters (TrainOptions.Clusters) found them: in the pipeline, the dataset version whose
    /// images and extractor define the clusters, which a warm start carries on to later versions (ImageClusters.LabelLike).
    /// Null for classes of the data's own and for runs outside the pipeline.
    /// </summary>
    public string? ClustersFrom { get; init; }
    /// <summary>The published version a warm-started run began from (dataset/version), else null.</summary>
    public string? WarmStartedFrom { get; init; }
    /// <summary>How the run started, in words: "warm start from ..." or "fresh start: " and why.</summary>
    public string? StartNote { get; init; }
    public DateTimeOffset SavedAt { get; init; }
    public string TorchSharpVersion { get; init; } = typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";
}
