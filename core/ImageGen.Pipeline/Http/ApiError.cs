namespace ImageGen.Pipeline.Http;

/// <summary>A 4xx answer's content: what was wrong, which parameter, and what it accepts.</summary>
public sealed record ApiError(int Status, string Message, string? Parameter = null, string? Allowed = null);
