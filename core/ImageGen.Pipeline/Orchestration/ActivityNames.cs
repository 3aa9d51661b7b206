namespace ImageGen.Pipeline.Orchestration;

/// <summary>The pipeline's activity names: PipelineRegistry's table pairs each with its handler; the Functions wrappers are named by them.</summary>
public static class ActivityNames
{
    public const string NewestDrop = "NewestDrop";
    public const string Ingest = "Ingest";
    public const string TrainChunk = "TrainChunk";
    public const string Evaluate = "Evaluate";
    public const string Publish = "Publish";
}
