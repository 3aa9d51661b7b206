using System.Globalization;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Serve;

public enum OutputFormat { Grid, Png, Zip, Json }

/// <summary>
/// The validated parameters of GET /api/datasets/{dataset}/samples. Every check happens here, before any
/// model is touched: a bad request costs nothing.
/// </summary>
public sealed record SampleQuery
{
    public const int MaxCount = 256;
    public const int MaxScale = 8;
    public static readonly string[] Parameters = ["count", "seed", "seeds", "format", "nrow", "padding", "truncation", "interpolate", "steps", "version", "scale", "class", "classes"];
    /// <summary>Query parameters that belong to the host (the Functions key), not to us.</summary>
    private static readonly string[] HostParameters = ["code"];

    public required string Dataset { get; init; }
    public string? Version { get; init; }
    public required IReadOnlyList<long> Seeds { get; init; }
    /// <summary>Interpolation end points, when interpolating; Seeds then holds (A, B).</summary>
    public (long a, long b, int steps)? Interpolate { get; init; }
    /// <summary>True when the caller fixed the randomness (seed, seeds or interpolate): the answer is cacheable.</summary>
    public bool Deterministic { get; init; }
    public OutputFormat Format { get; init; } = OutputFormat.Grid;
    public int Nrow { get; init; } = 8;
    public int Padding { get; init; } = 2;
    public double Truncation { get; init; } = 1.0;
    public int Scale { get; init; } = 1;
    /// <summary>
    /// Class names asked for (class-conditional models): one for every image (class=NAME), or one per image in turn
    /// (classes=a,b: a, b, a, b, ...). Empty: each image's class comes from its seed. Checked against the model's classes
    /// once it is loaded (<see cref="ClassIndices"/>).
    /// </summary>
    public IReadOnlyList<string> Classes { get; init; } = [];
    /// <summary>Which parameter named the classes (class or classes), for error messages.</summary>
    public string ClassParameter { get; init; } = "class";

    public int ImageCount => Interpolate?.steps ?? Seeds.Count;

    /// <summary>Checks the dataset and version as safe names (404 otherwise); returns the version, null for latest.</summary>
    public static string? CheckNames(string dataset, string? version)
    {
        if (!StorageLayout.IsSafeName(dataset))
            throw Bad($"dataset '{dataset}' is not a valid name", "dataset", $"1-{StorageLayout.MaxNameLength} of a-z 0-9 - _", 404);
        if (version is null || version == "latest") return null;
        return StorageLayout.IsSafeName(version)
            ? version
            : throw Bad($"version '{version}' is not a valid name", "version", "latest or a published version such as v0001", 404);
    }

    public static SampleQuery Parse(string dataset, IReadOnlyDictionary<string, string?> query)
    {
        string? version = CheckNames(dataset, Text(query, "version"));
        CheckKnown(query, Parameters);

        var format = Text(query, "format") switch
        {
            null => OutputFormat.Grid,
            "grid" => OutputFormat.Grid,
            "png" => OutputFormat.Png,
            "zip" => OutputFormat.Zip,
            "json" => OutputFormat.Json,
            var other => throw Bad($"format '{other}' is not supported", "format", "grid, png, zip, json"),
        };
        int? count = Int(query, "count", 1, MaxCount);
        long? seed = Long(query, "seed", 0, Core.Sampling.Seeds.MaxSeed);
        string? seedList = Text(query, "seeds");
        string? interpolate = Text(query, "interpolate");
        int? steps = Int(query, "steps", 2, MaxCount);
        if (seedList is not null && (count is not null || seed is not null))
            throw Bad("seeds excludes count and seed: the list already says which images and how many", "seeds");
        if (interpolate is not null && (seedList is not null || count is not null || seed is not null))
            throw Bad("interpolate excludes count, seed and seeds", "interpolate");
        if (steps is not null && interpolate is null) throw Bad("steps needs interpolate=A,B", "steps");

        IReadOnlyList<long> seeds;
        (long, long, int)? path = null;
        if (interpolate is not null)
        {
            var ends = interpolate.Split(',');
            if (ends.Length != 2) throw Bad($"interpolate '{interpolate}' must be two seeds A,B", "interpolate", "A,B with seeds in 0..4294967295");
            long a = ParseSeed(ends[0], "interpolate"), b = ParseSeed(ends[1], "interpolate");
            seeds = [a, b];
            path = (a, b, steps ?? 8);
        }
        else if (seedList is not null)
        {
            try { seeds = Core.Sampling.Seeds.Parse(seedList, MaxCount); }
            catch (FormatException e) { throw Bad(e.Message, "seeds", $"a list or range such as 1,5,7 or 10-20, at most {MaxCount} seeds"); }
        }
        else
        {
            int n = count ?? (format == OutputFormat.Png ? 1 : 16); // png is one image: count defaults to 1 there
            long first = seed ?? Random.Shared.NextInt64(0, Core.Sampling.Seeds.MaxSeed - MaxCount);
            if (first + n - 1 > Core.Sampling.Seeds.MaxSeed) throw Bad($"seed {first} plus count {n} runs past the last seed", "seed", $"0..{Core.Sampling.Seeds.MaxSeed - n + 1}");
            seeds = Core.Sampling.Seeds.Range(first, n);
        }
        int images = path?.Item3 ?? seeds.Count;
        string? oneClass = Text(query, "class"), classList = Text(query, "classes");
        if (oneClass is not null && classList is not null) throw Bad("class excludes classes: give one class for every image, or a list", "classes");
        var classes = (oneClass is not null ? [oneClass] : classList?.Split(',', StringSplitOptions.TrimEntries) ?? []).ToList();
        foreach (string name in classes) CheckClassName(name, classList is null ? "class" : "classes");
        if (classes.Count > MaxCount) throw Bad($"classes names {classes.Count} classes, over the limit of {MaxCount}", "classes");
        if (format == OutputFormat.Png && images != 1)
            throw Bad($"format png returns one image but {images} were asked for; use grid, zip or json", "format");
        return new SampleQuery
        {
            Dataset = dataset, Version = version, Seeds = seeds, Interpolate = path,
            Deterministic = seed is not null || seedList is not null || interpolate is not null,
            Format = format,
            Nrow = Int(query, "nrow", 1, MaxCount) ?? (path is { } p ? p.Item3 : 8),
            Padding = Int(query, "padding", 0, 16) ?? 2,
            Truncation = Double(query, "truncation", 0.01, 2.0) ?? 1.0,
            Scale = Int(query, "scale", 1, MaxScale) ?? 1,
            Classes = classes, ClassParameter = classList is null ? "class" : "classes",
        };
    }

    /// <summary>
    /// The class index of every image for a model with these classes (null: each seed's own class), or a 400 naming the
    /// class and the model's classes.
    /// </summary>
    public int[]? ClassIndices(IReadOnlyList<string> modelClasses, string version)
    {
        if (Classes.Count == 0) return null;
        string parameter = ClassParameter;
        var indices = Classes.Select(name => ClassIndex(Dataset, version, modelClasses, name, parameter)).ToArray();
        return [.. Enumerable.Range(0, ImageCount).Select(i => indices[i % indices.Length])];
    }

    /// <summary>A 400 naming the parameter for any query parameter not in parameters (nor the host's).</summary>
    internal static void CheckKnown(IReadOnlyDictionary<string, string?> query, string[] parameters)
    {
        foreach (var key in query.Keys)
            if (!parameters.Contains(key) && !HostParameters.Contains(key))
                throw Bad($"unknown parameter '{key}'", key, string.Join(", ", parameters));
    }

    /// <summary>A 400 where a class parameter's value cannot be a class name (empty, or over 200 characters).</summary>
    internal static void CheckClassName(string name, string parameter)
    {
        if (name.Length is 0 or > 200) throw Bad($"class '{name}' is not a class name", parameter, "class names of the model, 1-200 characters");
    }

    /// <summary>The index of a class name among the model's classes, or a 400 naming the parameter and the model's classes.</summary>
    internal static int ClassIndex(string dataset, string version, IReadOnlyList<string> modelClasses, string name, string parameter)
    {
        if (modelClasses.Count == 0)
            throw Bad($"dataset '{dataset}' version {version} is not class-conditional; leave out {parameter}", parameter, "no class");
        int index = modelClasses.ToList().IndexOf(name);
        return index >= 0 ? index
            : throw Bad($"class '{name}' is not one of version {version}'s classes: {string.Join(", ", modelClasses)}", parameter, string.Join(", ", modelClasses));
    }

    /// <summary>Everything that decides the output, in a fixed order: the base of the ETag.</summary>
    public string Canonical(string resolvedVersion) => string.Join('|', Dataset, resolvedVersion, Format,
        Interpolate is { } p ? $"interp:{p.a},{p.b},{p.steps}" : "seeds:" + string.Join(',', Seeds),
        Nrow, Padding, Truncation.ToString("R", CultureInfo.InvariantCulture), Scale, "classes:" + string.Join(',', Classes));

    internal static ApiErrorException Bad(string message, string parameter, string? allowed = null, int status = 400) =>
        new(new ApiError(status, message, parameter, allowed));

    internal static string? Text(IReadOnlyDictionary<string, string?> query, string name) =>
        query.TryGetValue(name, out var value) ? value ?? "" : null;

    private static long ParseSeed(string text, string parameter) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long s) && s <= Core.Sampling.Seeds.MaxSeed
            ? s : throw Bad($"seed '{text}' is not an integer in 0..{Core.Sampling.Seeds.MaxSeed}", parameter, $"0..{Core.Sampling.Seeds.MaxSeed}");

    private static int? Int(IReadOnlyDictionary<string, string?> query, string name, int min, int max)
    {
        if (Text(query, name) is not { } text) return null;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value : throw Bad($"{name} '{text}' is not an integer in {min}..{max}", name, $"{min}..{max}");
    }

    private static long? Long(IReadOnlyDictionary<string, string?> query, string name, long min, long max)
    {
        if (Text(query, name) is not { } text) return null;
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= min && value <= max
            ? value : throw Bad($"{name} '{text}' is not an integer in {min}..{max}", name, $"{min}..{max}");
    }

    private static double? Double(IReadOnlyDictionary<string, string?> query, string name, double min, double max)
    {
        if (Text(query, name) is not { } text) return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
            ? value : throw Bad($"{name} '{text}' is not a number in [{min}, {max}]", name, $"{min}..{max}");
    }
}
