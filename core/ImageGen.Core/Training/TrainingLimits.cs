using ImageGen.Core.Models;

namespace ImageGen.Core.Training;

/// <summary>
/// What the operator lets one training request ask for: the stop conditions and the model's size. Requests past a
/// limit are refused when their options are read, naming the key and the limit, before any data is read or any GPU
/// time is spent. The pipeline takes them from its settings (Pipeline__Limits__MaxEpochs, ...); the CLI uses the defaults.
/// </summary>
public sealed record TrainingLimits
{
    public int MaxEpochs { get; init; } = 10_000;
    public long MaxSteps { get; init; } = 10_000_000;
    public TimeSpan MaxTimeBudget { get; init; } = TimeSpan.FromHours(72);
    /// <summary>At most ModelSpec.MaxParameters, which keeps every checkpoint under 2 GiB.</summary>
    public long MaxParameters { get; init; } = ModelSpec.MaxParameters;

    public static TrainingLimits Default { get; } = new();

    public void Validate()
    {
        if (MaxEpochs < 1) throw new ArgumentException($"max epochs {MaxEpochs} must be at least 1");
        if (MaxSteps < 1) throw new ArgumentException($"max steps {MaxSteps} must be at least 1");
        if (MaxTimeBudget <= TimeSpan.Zero) throw new ArgumentException($"max time budget {MaxTimeBudget} must be positive");
        if (MaxParameters is < 1 or > ModelSpec.MaxParameters)
            throw new ArgumentException($"max parameters {MaxParameters} is outside 1..{ModelSpec.MaxParameters} (the most a checkpoint under 2 GiB holds)");
    }
}
