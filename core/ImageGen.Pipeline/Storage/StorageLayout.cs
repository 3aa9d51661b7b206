using System.Text.RegularExpressions;

namespace ImageGen.Pipeline.Storage;

/// <summary>
/// Where everything lives in the one storage account. Every dataset and version name is checked here as a
/// safe path segment before it becomes part of a blob name.
/// </summary>
public static partial class StorageLayout
{
    public const string TrainingImagesContainer = "training-images";
    public const string DatasetsContainer = "datasets";
    public const string CheckpointsContainer = "checkpoints";
    public const string ModelsContainer = "models";

    public const string CheckpointFile = "model.ckpt";
    public const string ModelCardFile = "model.json";
    public const string SamplesFile = "samples.png";
    public const string LatestFile = "latest.json";

    public const int MaxNameLength = 63;

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*$")]
    private static partial Regex SafeSegment();

    /// <summary>Lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters.</summary>
    public static bool IsSafeName(string? name) => name is { Length: > 0 and <= MaxNameLength } && SafeSegment().IsMatch(name);

    public static string ValidateName(string? name, string what) => IsSafeName(name)
        ? name!
        : throw new ArgumentException($"{what} '{name}' is not a valid name: use 1-{MaxNameLength} lower-case letters, digits, '-' or '_', starting with a letter or digit");

    public static string ModelFolder(string dataset, string version) => $"{dataset}/{version}";
    public static string ModelCheckpoint(string dataset, string version) => $"{dataset}/{version}/{CheckpointFile}";
    public static string ModelCard(string dataset, string version) => $"{dataset}/{version}/{ModelCardFile}";
    public static string ModelSamples(string dataset, string version) => $"{dataset}/{version}/{SamplesFile}";
    public static string LatestPointer(string dataset) => $"{dataset}/{LatestFile}";
    public static string TrainingImagesPrefix(string dataset) => $"{dataset}/";

    /// <summary>Versions are v0001, v0002, ...: sortable, and safe segments.</summary>
    public static string VersionName(int number) => $"v{number:D4}";
}
