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
    /// <summary>Every container the app reads or writes (created up front; infra/main.bicep declares the same).</summary>
    public static readonly string[] Containers = [TrainingImagesContainer, DatasetsContainer, CheckpointsContainer, ModelsContainer];

    public const string CheckpointFile = "model.ckpt";
    /// <summary>The version's generator as ONNX, exported at publish (versions published before it have none).</summary>
    public const string OnnxFile = "model.onnx";
    /// <summary>A VAE version's encoder as ONNX, for reconstruction without libtorch (published beside model.onnx since it existed).</summary>
    public const string EncoderOnnxFile = "encoder.onnx";
    public const string ModelCardFile = "model.json";
    public const string SamplesFile = "samples.png";
    public const string LatestFile = "latest.json";

    public const int MaxNameLength = 63;

    // \A and \z: "$" would also match before a final newline, letting "name\n" through.
    [GeneratedRegex(@"\A[a-z0-9][a-z0-9_-]*\z")]
    private static partial Regex SafeSegment();

    /// <summary>Lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters.</summary>
    public static bool IsSafeName(string? name) => name is { Length: > 0 and <= MaxNameLength } && SafeSegment().IsMatch(name);

    public static string ValidateName(string? name, string what) => IsSafeName(name)
        ? name!
        : throw new ArgumentException($"{what} '{name}' is not a valid name: use 1-{MaxNameLength} lower-case letters, digits, '-' or '_', starting with a letter or digit");

    public static string ModelCheckpoint(string dataset, string version) => $"{dataset}/{version}/{CheckpointFile}";
    public static string ModelCard(string dataset, string version) => $"{dataset}/{version}/{ModelCardFile}";
    public static string ModelOnnx(string dataset, string version) => $"{dataset}/{version}/{OnnxFile}";
    public static string ModelEncoderOnnx(string dataset, string version) => $"{dataset}/{version}/{EncoderOnnxFile}";
    public static string ModelSamples(string dataset, string version) => $"{dataset}/{version}/{SamplesFile}";
    public static string LatestPointer(string dataset) => $"{dataset}/{LatestFile}";
    public static string TrainingImagesPrefix(string dataset) => $"{dataset}/";

    /// <summary>training-images/{dataset}/imagegen.json: the dataset's training options.</summary>
    public const string OptionsFile = "imagegen.json";
    public static string DatasetOptions(string dataset) => $"{dataset}/{OptionsFile}";

    /// <summary>The dataset a dropped blob belongs to (its first path segment), or null when that is not a safe name.</summary>
    public static string? DatasetOfDrop(string blobName)
    {
        int slash = blobName.IndexOf('/');
        string first = slash > 0 ? blobName[..slash] : "";
        return IsSafeName(first) ? first : null;
    }

    /// <summary>datasets/{dataset}/{datasetVersion}/: packed shards and manifest.json.</summary>
    public static string PackedFolder(string dataset, string datasetVersion) => $"{dataset}/{datasetVersion}/";

    /// <summary>datasets/{dataset}/{datasetVersion}/quality/: the version's self-supervised feature extractor and its real-side features.</summary>
    public static string QualityExtractor(string dataset, string datasetVersion) => PackedFolder(dataset, datasetVersion) + "quality/extractor.bin";
    /// <summary>The real-side features, named by their file format: a new format is a new blob, so a reference of an older one is computed again, never read.</summary>
    public static string QualityReference(string dataset, string datasetVersion) => PackedFolder(dataset, datasetVersion) + $"quality/reference-{QualityReferenceFormat}.bin";
    /// <summary>QualityReference.Format (ImageGen.Core.Torch), which this assembly cannot reference; a test holds them equal.</summary>
    public const int QualityReferenceFormat = 3;

    /// <summary>checkpoints/{dataset}/{runId}/: everything a training run leaves for resume and status.</summary>
    public static string RunFolder(string dataset, string runId) => $"{dataset}/{runId}/";
    public static string RunCheckpoint(string dataset, string runId) => RunFolder(dataset, runId) + "checkpoint.ckpt";
    public static string RunSamples(string dataset, string runId) => RunFolder(dataset, runId) + "samples.png";
    public static string RunProgress(string dataset, string runId) => RunFolder(dataset, runId) + "progress.json";
    public static string RunChunk(string dataset, string runId, int chunk) => RunFolder(dataset, runId) + $"chunk-{chunk:D5}.json";
    public static string RunCancel(string dataset, string runId) => RunFolder(dataset, runId) + "cancel";
    public static string RunEvaluation(string dataset, string runId) => RunFolder(dataset, runId) + "evaluation.json";
    public static string RunEvaluationSamples(string dataset, string runId) => RunFolder(dataset, runId) + "evaluation.png";
    public static string RunPublished(string dataset, string runId) => RunFolder(dataset, runId) + "published.json";

    /// <summary>
    /// A machine-local cache folder for blobs of one dataset version: under the temp folder, per storage account (two
    /// accounts, or two emulators, may hold the same names) and per kind of content.
    /// </summary>
    public static string LocalCacheFolder(Uri account, string kind, string dataset, string datasetVersion)
    {
        string accountKey = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(account.AbsoluteUri)))[..12];
        return Path.Combine(Path.GetTempPath(), "imagegen-" + kind, accountKey.ToLowerInvariant(), dataset, datasetVersion);
    }

    /// <summary>Versions are v0001, v0002, ...: sortable, and safe segments.</summary>
    public static string VersionName(int number) => $"v{number:D4}";

    public static int? VersionNumber(string version) =>
        version.Length > 1 && version[0] == 'v' && int.TryParse(version[1..], System.Globalization.NumberStyles.None, null, out int n) ? n : null;

    /// <summary>A version as the registry writes it: v and at least four digits (v0001), so versions order by number.</summary>
    public static string ValidateVersion(string? version, string what) =>
        version is not null && VersionNumber(version) is { } n && n > 0 && VersionName(n) == version
            ? version
            : throw new ArgumentException($"{what} '{version}' is not a version name: use v and a number of at least four digits, such as v0001 or v0012");
}
