namespace ImageGen.Pipeline.Ingest;

/// <summary>Ingest the dataset's drops as version DatasetVersion (the id of the run that asks for it).</summary>
public sealed record IngestRequest(string Dataset, string DatasetVersion, string? OptionsJson);
