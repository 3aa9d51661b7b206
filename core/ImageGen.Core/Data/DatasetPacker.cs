using System.Text.Json;
using ImageGen.Core.Models;

namespace ImageGen.Core.Data;

public sealed record ShardInfo(string File, int Count);
public sealed record Rejection(string Name, string Reason);

/// <summary>The JSON manifest beside the shard files: what was packed, from where, and what was rejected and why.</summary>
public sealed record DatasetManifest
{
    public const string FileName = "manifest.json";
    public string Format { get; init; } = "imagegen-shards/1";
    public int Count { get; init; }
    public int ImageSize { get; init; }
    public int Channels { get; init; }
    public List<ShardInfo> Shards { get; init; } = [];
    public List<string> Sources { get; init; } = [];
    public List<Rejection> Rejected { get; init; } = [];
    /// <summary>Class names from the labels file or the images' first-level folders (DatasetClasses); empty when the dataset is not labelled.</summary>
    public List<string> Classes { get; init; } = [];
    /// <summary>Each accepted image's class index, in Sources' order; empty when the dataset is not labelled.</summary>
    public List<int> Labels { get; init; } = [];
    /// <summary>The labels file the classes came from (labels.json or labels.csv); null when they came from folders or there are none.</summary>
    public string? LabelsFile { get; init; }
    /// <summary>
    /// The accepted images kept out of training (indices in Sources' order, ascending; DatasetHoldOut chose them):
    /// training never reads them, the evaluation measures the near-copy baseline with them. Empty: none.
    /// </summary>
    public List<int> HeldOut { get; init; } = [];
    public DateTimeOffset CreatedAt { get; init; }

    public static DatasetManifest Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        return JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path), Json.Options)
            ?? throw new InvalidDataException($"'{path}' is empty");
    }
}

/// <summary>Progress of a packing job: inputs seen so far, how many accepted and rejected.</summary>
public readonly record struct PackProgress(int Seen, int Accepted, int Rejected, string LastName);

/// <summary>
/// Packs images into shard files of raw uint8 pixels ([n, C, S, S], row-major) plus a manifest, so training
/// reads them without decoding again. Bad inputs are recorded with their reason and never stop the batch.
/// </summary>
public sealed class DatasetPacker : IDisposable
{
    public const int ImagesPerShard = 8192;
    private readonly string folder;
    private readonly int imageSize, channels;
    private readonly DecodeLimits limits;
    private readonly IProgress<PackProgress>? progress;
    private readonly List<ShardInfo> shards = [];
    private readonly List<string> sources = [];
    private readonly List<ulong> holdOutKeys = [];
    private readonly List<Rejection> rejected = [];
    private FileStream? currentShard;
    private int inCurrentShard;
    private (string File, Dictionary<string, string> Labels)? labelsFile;

    public DatasetPacker(string folder, int imageSize, int channels, DecodeLimits? limits = null, IProgress<PackProgress>? progress = null)
    {
        new ModelSpec { ImageSize = imageSize, Channels = channels }.Validate();
        this.folder = folder;
        this.imageSize = imageSize;
        this.channels = channels;
        this.limits = limits ?? DecodeLimits.Default;
        PixelsInFlight = new PixelBudget(this.limits.MaxPixelsInFlight);
        this.progress = progress;
        Directory.CreateDirectory(folder);
    }

    public int Accepted => sources.Count;
    /// <summary>The pixels <see cref="DecodeAsync"/> callers may decode at once, shared by all of them.</summary>
    public PixelBudget PixelsInFlight { get; }
    public IReadOnlyList<Rejection> Rejected => rejected;

    /// <summary>Decodes one input and packs it, or records why not. Returns true when accepted.</summary>
    public bool Add(string name, byte[] data) => Add(name, Decode(data));

    /// <summary>Decodes to this packer's size and channels. Thread-safe, so callers may decode in parallel and Add in order.</summary>
    public DecodeResult Decode(byte[] data) => ImageDecoder.Decode(data, imageSize, channels, limits);

    /// <summary>Decodes within <see cref="PixelsInFlight"/> (ImageDecoder.DecodeWithinAsync), so parallel callers are bounded by memory.</summary>
    public Task<DecodeResult> DecodeAsync(byte[] data, CancellationToken cancellationToken = default) =>
        ImageDecoder.DecodeWithinAsync(PixelsInFlight, data, imageSize, channels, limits, cancellationToken);

    /// <summary>
    /// Reads the dataset's labels file (DatasetClasses.ParseLabelsFile) before any image is added: its classes replace
    /// the folders', and an image it does not name is refused. A file that breaks the rules is refused by name and
    /// the folders decide, so a bad labels file never loses the images. Returns true when the labels are in use.
    /// </summary>
    public bool UseLabelsFile(string fileName, string text)
    {
        if (sources.Count > 0) throw new InvalidOperationException("the labels file must be read before the first image");
        if (labelsFile is { } inUse) { Reject(fileName, $"{inUse.File} already names the classes; keep one labels file per dataset"); return false; }
        try { labelsFile = (fileName, DatasetClasses.ParseLabelsFile(fileName, text)); return true; }
        catch (InvalidDataException e) { Reject(fileName, e.Message + "; classes come from the sub-folders instead"); return false; }
    }

    public bool Add(string name, DecodeResult decoded)
    {
        if (labelsFile is { } file && !file.Labels.ContainsKey(name))
        {
            Reject(name, $"{file.File} gives it no class; with a labels file every image needs one");
            return false;
        }
        if (labelsFile is null && DatasetClasses.FolderClassRejection(name) is { } badFolder) { Reject(name, badFolder); return false; }
        if (!decoded.Accepted) { Reject(name, decoded.Rejection!); return false; }
        AddPixels(name, decoded.Pixels!);
        return true;
    }

    public void AddPixels(string name, byte[] planar)
    {
        if (planar.Length != channels * imageSize * imageSize)
            throw new ArgumentException($"'{name}' has {planar.Length} bytes; expected {channels}x{imageSize}x{imageSize}");
        if (currentShard is null || inCurrentShard == ImagesPerShard) StartShard();
        currentShard!.Write(planar);
        inCurrentShard++;
        sources.Add(name);
        holdOutKeys.Add(DatasetHoldOut.Key(planar));
        Report(name);
    }

    public void Reject(string name, string reason)
    {
        rejected.Add(new Rejection(name, reason));
        Report(name);
    }

    /// <summary>
    /// Adds every file under a folder (recursively, in ordinal path order), reading none over the byte limit. A labels
    /// file at the folder's top is read first and names the classes.
    /// </summary>
    public void AddFolder(string inputFolder, CancellationToken cancellationToken = default)
    {
        foreach (string labels in DatasetClasses.LabelsFiles)
        {
            var info = new FileInfo(Path.Combine(inputFolder, labels));
            if (!info.Exists) continue;
            if (info.Length > DatasetClasses.MaxLabelsFileBytes) Reject(labels, $"file is {info.Length} bytes, over the {DatasetClasses.MaxLabelsFileBytes}-byte limit of a labels file");
            else UseLabelsFile(labels, File.ReadAllText(info.FullName));
        }
        var files = Directory.EnumerateFiles(inputFolder, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = Path.GetRelativePath(inputFolder, file).Replace(Path.DirectorySeparatorChar, '/');
            if (DatasetClasses.IsLabelsFile(name)) continue;
            long length = new FileInfo(file).Length;
            if (length > limits.MaxBytes) { Reject(name, $"file is {length} bytes, over the {limits.MaxBytes}-byte limit"); continue; }
            Add(name, File.ReadAllBytes(file));
        }
    }

    /// <summary>Closes the last shard and writes the manifest, holding out about <paramref name="holdOut"/> of the images (DatasetHoldOut).</summary>
    public DatasetManifest Finish(double holdOut = 0)
    {
        CloseShard();
        var classes = labelsFile is { } file ? DatasetClasses.FromLabels(sources, file.Labels) : DatasetClasses.FromPaths(sources);
        var manifest = new DatasetManifest
        {
            Count = sources.Count, ImageSize = imageSize, Channels = channels,
            Shards = [.. shards], Sources = [.. sources], Rejected = [.. rejected], CreatedAt = DateTimeOffset.UtcNow,
            Classes = classes?.Names ?? [], Labels = classes?.Labels ?? [], LabelsFile = classes is null ? null : labelsFile?.File,
            HeldOut = DatasetHoldOut.Choose(holdOutKeys, classes?.Labels ?? [], holdOut),
        };
        string path = Path.Combine(folder, DatasetManifest.FileName);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(manifest, Json.Options));
        File.Move(path + ".tmp", path, overwrite: true); // the manifest appears only once every shard is complete
        return manifest;
    }

    private void StartShard()
    {
        CloseShard();
        string file = $"shard-{shards.Count:D5}.bin";
        currentShard = new FileStream(Path.Combine(folder, file), FileMode.Create, FileAccess.Write);
        shards.Add(new ShardInfo(file, 0));
        inCurrentShard = 0;
    }

    private void CloseShard()
    {
        if (currentShard is null) return;
        currentShard.Dispose();
        currentShard = null;
        shards[^1] = shards[^1] with { Count = inCurrentShard };
    }

    private void Report(string name) => progress?.Report(new PackProgress(sources.Count + rejected.Count, sources.Count, rejected.Count, name));

    public void Dispose() => CloseShard();
}
