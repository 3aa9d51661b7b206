using System.Text.Json.Serialization;
using ImageGen.Core.Models;

namespace ImageGen.Core.Training;

/// <summary>Why a training call returned. Written in JSON as the CLI's flag names ("max-steps").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StopReason>))]
public enum StopReason
{
    [JsonStringEnumMemberName("epochs")] Epochs,
    [JsonStringEnumMemberName("max-steps")] MaxSteps,
    [JsonStringEnumMemberName("time-budget")] TimeBudget,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
    /// <summary>A loss went NaN or infinite: the step's update is not kept, the last checkpoint written before it is.</summary>
    [JsonStringEnumMemberName("diverged")] Diverged,
}

public static class StopReasonNames
{
    /// <summary>The name the CLI and the JSON use: "epochs", "max-steps", "time-budget", "cancelled", "diverged".</summary>
    public static string Name(this StopReason reason) => System.Text.Json.JsonSerializer.Serialize(reason).Trim('"');
}

/// <summary>
/// The shape of a whole run, worked out once from its spec, options and data size: batch, steps per epoch
/// (the last partial batch is dropped, as DataLoader(drop_last=True)), epochs and total steps; the ETA and
/// "is the run finished" follow from it. The trainer, the pipeline's chunks and the status endpoint all use it.
/// </summary>
public sealed record TrainingPlan(int BatchSize, int StepsPerEpoch, int Epochs, long? TotalSteps, TimeSpan? TimeBudget, long? MaxSteps)
{
    public static TrainingPlan For(ModelSpec spec, TrainOptions options, int imageCount)
    {
        int batch = Math.Min(options.BatchSize, imageCount);
        int stepsPerEpoch = imageCount / batch;
        int epochs = options.ResolvedEpochs(spec.Kind);
        long? total = options.MaxSteps;
        if (epochs != int.MaxValue) total = Math.Min(total ?? long.MaxValue, (long)epochs * stepsPerEpoch);
        return new TrainingPlan(batch, stepsPerEpoch, epochs, total, options.TimeBudget, options.MaxSteps);
    }

    /// <summary>Time left at stepsPerSecond, capped by what is left of the time budget; null when neither bounds it.</summary>
    public TimeSpan? Eta(long step, double stepsPerSecond, TimeSpan trained)
    {
        TimeSpan? eta = TotalSteps is { } total && stepsPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - step) / stepsPerSecond) : null;
        if (TimeBudget is { } budget)
        {
            var left = budget - trained < TimeSpan.Zero ? TimeSpan.Zero : budget - trained;
            if (eta is null || left < eta) eta = left;
        }
        return eta;
    }

    /// <summary>
    /// Whether a stop ends the whole run: the epochs ran out, the run's own max steps (not a chunk's) were reached,
    /// or its time budget is spent. A cancellation never finishes a run; it leaves a checkpoint to resume.
    /// </summary>
    public bool Finishes(StopReason reason, long step, TimeSpan trained) => reason switch
    {
        StopReason.Epochs => true,
        StopReason.MaxSteps => step >= (MaxSteps ?? long.MaxValue),
        StopReason.TimeBudget => TimeBudget is { } budget && trained >= budget,
        _ => false,
    };
}
