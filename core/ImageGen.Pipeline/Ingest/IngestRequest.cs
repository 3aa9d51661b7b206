using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Ingest;

/// <summary>
/// Ingest the dataset's drops as version DatasetVersion (the id of the run that asks for it); the options are read
/// against the operator's limits (the defaults when none are given).
/// </summary>
public sealed record IngestRequest(string Dataset, string DatasetVersion, string? OptionsJson, TrainingLimits? Limits = null);
