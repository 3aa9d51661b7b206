namespace ImageGen.Pipeline.Orchestration;

/// <summary>A reason to train: images arrived (a blob name) or someone asked over HTTP (with options, maybe).</summary>
public sealed record RunSignal(string Reason, string? OptionsJson = null)
{
    public const string HttpReason = "http";
}
