namespace ImageGen.Pipeline.Orchestration;

/// <summary>How a generation of the orchestration ended.</summary>
public sealed record PipelineOutcome(string State, string? RunId = null, string? Version = null, string? Error = null);
