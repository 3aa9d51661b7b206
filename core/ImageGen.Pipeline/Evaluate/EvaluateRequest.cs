namespace ImageGen.Pipeline.Evaluate;

/// <param name="Samples">Generated images scored (seeds 1,000,000 onwards).</param>
/// <param name="ExtractorSteps">Training steps of the dataset version's self-supervised extractor, when it must be made.</param>
public sealed record EvaluateRequest(string Dataset, string RunId, string DatasetVersion, int Samples = 2000, int ExtractorSteps = 400);
