namespace ImageGen.Pipeline.Publish;

public sealed record PublishRequest(string Dataset, string RunId, string DatasetVersion, Dictionary<string, double> Metrics, long Steps);
