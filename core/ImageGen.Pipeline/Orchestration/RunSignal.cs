namespace ImageGen.Pipeline.Orchestration;

/// <summary>A reason to train: images arrived (a blob name) or someone asked over HTTP (with options, maybe).</summary>
public sealed record RunSignal(string Reason, string? OptionsJson = null)
{
    public const string HttpReason = "http";

    /// <summary>Someone asked for a run (over HTTP, or with options): a run that consumes it always trains again.</summary>
    public bool Asked => OptionsJson is not null || Reason == HttpReason;
}
