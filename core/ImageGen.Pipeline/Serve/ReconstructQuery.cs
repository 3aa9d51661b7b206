namespace ImageGen.Pipeline.Serve;

/// <summary>
/// The validated parameters of POST /api/datasets/{dataset}/reconstruct: the version, and for a class-conditional VAE the
/// image's class (class=NAME, which its encoder and decoder need). Checked before the body is read; the name is checked
/// against the model's classes once it is loaded (<see cref="ClassIndex"/>).
/// </summary>
public sealed record ReconstructQuery
{
    public static readonly string[] Parameters = ["version", "class"];

    public required string Dataset { get; init; }
    public string? Version { get; init; }
    public string? ImageClass { get; init; }

    public static ReconstructQuery Parse(string dataset, IReadOnlyDictionary<string, string?> query)
    {
        string? version = SampleQuery.CheckNames(dataset, SampleQuery.Text(query, "version"));
        SampleQuery.CheckKnown(query, Parameters);
        string? imageClass = SampleQuery.Text(query, "class");
        if (imageClass is not null) SampleQuery.CheckClassName(imageClass, "class");
        return new ReconstructQuery { Dataset = dataset, Version = version, ImageClass = imageClass };
    }

    /// <summary>
    /// The image's class as an index of the model's classes (null for an unconditional model), or a 400 naming the class
    /// parameter: a class-conditional model needs it, and an unconditional one takes none.
    /// </summary>
    public int? ClassIndex(IReadOnlyList<string> modelClasses, string version)
    {
        if (modelClasses.Count > 0 && ImageClass is null)
            throw SampleQuery.Bad($"dataset '{Dataset}' version {version} is class-conditional: give the image's class (class=NAME) to reconstruct it",
                "class", string.Join(", ", modelClasses));
        return ImageClass is null ? null : SampleQuery.ClassIndex(Dataset, version, modelClasses, ImageClass, "class");
    }
}
