namespace ImageGen.Pipeline.Train;

public sealed record EvaluateRequest(string Dataset, string RunId, string DatasetVersion);
