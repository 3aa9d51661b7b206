namespace ImageGen.Pipeline.Train;

public sealed record EvaluateResult(Dictionary<string, double> Metrics);
