using ImageGen.Core.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>
/// The real side of the quality metrics in one extractor's feature space: features of the training images (what
/// memorization compares against) and of the reference images (what FD, KID and precision/recall compare against),
/// with the reference's Gaussian fit. Computing it runs the extractor over every real image, so it is kept per
/// dataset version and extractor: a repeat evaluation then costs only the generated side.
/// </summary>
public sealed class QualityReference : IDisposable
{
    public const int DefaultMaxReference = 10_000;
    private const string Magic = "imagegen-quality-reference-1";

    public string ExtractorId { get; }
    public Tensor Training { get; }
    public Tensor Reference { get; }
    public GaussianFit ReferenceFit { get; }

    private QualityReference(string extractorId, Tensor training, Tensor reference)
    {
        ExtractorId = extractorId;
        Training = training;
        Reference = reference;
        ReferenceFit = GaussianFit.Of(reference);
    }

    /// <summary>
    /// Features of the training images and of the reference: the held-out images when there are some (at most
    /// maxReference of them), else a seeded random subset of at most maxReference training images.
    /// </summary>
    public static QualityReference Compute(FeatureExtractor extractor, ImageTensorDataset training, ImageTensorDataset? heldOut = null,
        int maxReference = DefaultMaxReference, int seed = 0)
    {
        var trainingFeatures = extractor.Extract(training);
        Tensor reference;
        if (heldOut is not null)
        {
            using var all = extractor.Extract(heldOut);
            reference = all[..Math.Min(maxReference, heldOut.Count)].clone();
        }
        else
        {
            using var random = new torch.Generator((ulong)seed);
            using var order = torch.randperm(training.Count, generator: random);
            using var picked = order[..Math.Min(maxReference, training.Count)];
            reference = trainingFeatures.index_select(0, picked);
        }
        return new QualityReference(extractor.Info.Id, trainingFeatures, reference);
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(Magic);
        writer.Write(ExtractorId);
        Write(writer, Training);
        Write(writer, Reference);
    }

    /// <summary>Reads a saved reference; refuses one made with another extractor or whose sizes do not fit the file.</summary>
    public static QualityReference Load(string path, string extractorId)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        if (reader.ReadString() != Magic) throw new InvalidDataException($"'{path}' is not a quality reference file");
        string id = reader.ReadString();
        if (id != extractorId) throw new InvalidDataException($"'{path}' was computed with extractor {id}, not {extractorId}");
        var training = Read(reader, path);
        var reference = Read(reader, path);
        return new QualityReference(id, training, reference);
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
