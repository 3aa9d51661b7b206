namespace ImageGen.Pipeline.Publish;

public sealed record PublishResult(string Version);
