using ImageGen.Core.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>
/// The real side of the quality metrics in one extractor's feature space: features of the training images (what
/// memorization compares against) and of the reference images (what FD, KID and precision/recall compare against),
/// with the reference's Gaussian fit. Computing it runs the extractor over every real image, so it is kept per
/// dataset version and extractor: a repeat evaluation then costs only the generated side. It also holds the near-copy
/// baseline: how the memorization test scores real images that training never saw (Unseen).
/// </summary>
public sealed class QualityReference : IDisposable
{
    public const int DefaultMaxReference = 10_000;
    /// <summary>
    /// The file format, which the stored name carries too (StorageLayout.QualityReference). Formats 1 and 2 kept no
    /// near-copy baseline or one from the copy test before it told repeated images apart; they are computed again.
    /// </summary>
    public const int Format = 3;
    private const string Magic = "imagegen-quality-reference-3";

    public string ExtractorId { get; }
    public Tensor Training { get; }
    public Tensor Reference { get; }
    public GaussianFit ReferenceFit { get; }
    /// <summary>The memorization test on real images that training never saw, against the training images; null when there were none.</summary>
    public UnseenBaseline? Unseen { get; }

    private QualityReference(string extractorId, Tensor training, Tensor reference, UnseenBaseline? unseen)
    {
        ExtractorId = extractorId;
        Training = training;
        Reference = reference;
        ReferenceFit = GaussianFit.Of(reference);
        Unseen = unseen;
    }

    /// <summary>
    /// Features of the training images and of the reference: the held-out images when there are some (at most
    /// maxReference of them), else a seeded random subset of at most maxReference training images. The near-copy
    /// baseline comes from <paramref name="unseen"/>, else from the held-out reference images, else there is none.
    /// </summary>
    public static QualityReference Compute(FeatureExtractor extractor, ImageTensorDataset training, ImageTensorDataset? heldOut = null,
        int maxReference = DefaultMaxReference, int seed = 0, ImageTensorDataset? unseen = null)
    {
        var trainingFeatures = extractor.Extract(training);
        Tensor? reference = null;
        try
        {
            UnseenBaseline? baseline = null;
            if (unseen is not null)
            {
                using var unseenFeatures = extractor.Extract(unseen);
                baseline = UnseenBaseline.Of(trainingFeatures, unseenFeatures);
            }
            if (heldOut is not null)
            {
                using var all = extractor.Extract(heldOut);
                reference = all[..Math.Min(maxReference, heldOut.Count)].clone();
                baseline ??= UnseenBaseline.Of(trainingFeatures, reference);
            }
            else
            {
                using var random = new torch.Generator((ulong)seed);
                using var order = torch.randperm(training.Count, generator: random);
                using var picked = order[..Math.Min(maxReference, training.Count)];
                reference = trainingFeatures.index_select(0, picked);
            }
            return new QualityReference(extractor.Info.Id, trainingFeatures, reference, baseline);
        }
        catch
        {
            trainingFeatures.Dispose();
            reference?.Dispose();
            throw;
        }
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(Magic);
        writer.Write(ExtractorId);
        Write(writer, Training);
        Write(writer, Reference);
        writer.Write(Unseen?.Images ?? 0);
        writer.Write(Unseen?.NearCopyShare ?? 0);
        writer.Write(Unseen?.MedianRatio ?? 0);
    }

    /// <summary>Reads a saved reference; refuses one made with another extractor or whose sizes do not fit the file.</summary>
    public static QualityReference Load(string path, string extractorId)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        string magic = reader.ReadString();
        if (magic != Magic) throw new InvalidDataException($"'{path}' is not a quality reference file of format {Format}");
        string id = reader.ReadString();
        if (id != extractorId) throw new InvalidDataException($"'{path}' was computed with extractor {id}, not {extractorId}");
        Tensor? training = null, reference = null;
        try
        {
            training = Read(reader, path);
            reference = Read(reader, path);
            int images = reader.ReadInt32();
            double share = reader.ReadDouble(), median = reader.ReadDouble();
            return new QualityReference(id, training, reference, images > 0 ? new UnseenBaseline(images, share, median) : null);
        }
        catch (Exception e)
        {
            training?.Dispose(); // what was read so far goes now, not at a finalizer
            reference?.Dispose();
            if (e is EndOfStreamException) throw new InvalidDataException($"'{path}' is cut short", e);
            throw;
        }
    }

    private static void Write(BinaryWriter writer, Tensor features)
    {
        writer.Write((int)features.shape[0]);
        writer.Write((int)features.shape[1]);
        var values = features.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static Tensor Read(BinaryReader reader, string path)
    {
        int rows = reader.ReadInt32(), columns = reader.ReadInt32();
        long bytes = (long)rows * columns * sizeof(float);
        if (rows < 1 || columns < 1 || bytes > reader.BaseStream.Length - reader.BaseStream.Position)
            throw new InvalidDataException($"'{path}' declares {rows}x{columns} features, more than the file holds");
        var values = new float[rows * columns];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return torch.tensor(values, [rows, columns]);
    }

    public void Dispose()
    {
        Training.Dispose();
        Reference.Dispose();
    }
}

/// <summary>
/// How the memorization test (Memorization) scores real images that training never saw: the near-copy share that
/// genuinely new images of this data reach against these training images. It grows as the training set shrinks (its
/// images lie far apart, so new images often land within half of one's nearest-neighbour distance), which is why a
/// model's share is read against it and not against a fixed limit.
/// </summary>
public sealed record UnseenBaseline(int Images, double NearCopyShare, double MedianRatio)
{
    public static UnseenBaseline Of(Tensor trainingFeatures, Tensor unseenFeatures)
    {
        var result = Memorization.Of(trainingFeatures, unseenFeatures);
        return new UnseenBaseline((int)unseenFeatures.shape[0], result.NearCopyShare, result.MedianRatio);
    }
}
