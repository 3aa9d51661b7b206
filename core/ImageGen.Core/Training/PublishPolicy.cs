namespace ImageGen.Core.Training;

/// <summary>always: every finished run becomes latest. ifBetter: only when its FD is not worse than latest's. manual: never by itself.</summary>
public enum PublishMode { Always, IfBetter, Manual }

/// <summary>
/// When a finished run becomes the dataset's latest model (the publish gate), read from imagegen.json or a train
/// request beside the training options. A run that does not pass is still published, as a candidate version.
/// </summary>
public sealed record PublishPolicy
{
    public static readonly string[] Keys = ["publish", "publishTolerance"];

    public PublishMode Mode { get; init; } = PublishMode.IfBetter;
    /// <summary>
    /// How much worse (relative) FD may be than latest's and still pass ifBetter: FD measured on a few thousand samples
    /// moves by a few percent between two samplings of one model, and a gate tighter than that noise rejects at random.
    /// </summary>
    public double Tolerance { get; init; } = 0.05;

    public static PublishPolicy Read(OptionReader values) => new()
    {
        Mode = values.Enum<PublishMode>("publish") ?? PublishMode.IfBetter,
        Tolerance = values.Double("publishTolerance", 0, 10) ?? 0.05,
    };

    /// <summary>The mode as imagegen.json spells it (always, ifBetter, manual).</summary>
    public static string Name(PublishMode mode) => mode == PublishMode.IfBetter ? "ifBetter" : mode.ToString().ToLowerInvariant();
}
