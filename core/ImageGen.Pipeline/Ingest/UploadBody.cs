namespace ImageGen.Pipeline.Ingest;

/// <summary>The body of POST /api/datasets/{dataset}/uploads: files by relative name, their bytes in base64.</summary>
public sealed record UploadBody(List<UploadBody.File>? Files)
{
    public sealed record File(string? Name, string? Data);

    /// <summary>What the endpoint expects, for its error messages.</summary>
    public const string Shape = "{\"files\": [{\"name\": \"cats/a.png\", \"data\": \"<base64>\"}]}";

    /// <summary>Most files in one request; the console sends larger drops in several.</summary>
    public const int MaxFiles = 256;
}
