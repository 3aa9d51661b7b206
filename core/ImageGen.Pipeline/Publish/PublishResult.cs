namespace ImageGen.Pipeline.Publish;

/// <param name="Latest">Whether the version became latest; false: it is a candidate, served only by version=.</param>
/// <param name="Reason">Why, in a sentence for the status.</param>
public sealed record PublishResult(string Version, bool Latest = true, string Reason = "");
