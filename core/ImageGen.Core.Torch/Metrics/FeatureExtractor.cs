using System.Security.Cryptography;
using System.Text.Json;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Metrics;

/// <summary>What an extractor file says about itself; Id is the first 16 hex digits of the file's SHA-256.</summary>
public sealed record ExtractorInfo
{
    public string Id { get; init; } = "";
    /// <summary>classifier (trained on labels) or contrastive (self-supervised on the dataset's images alone).</summary>
    public string Kind { get; init; } = ClassifierKind;
    public const string ClassifierKind = QualityScores.ClassifierExtractor;
    public const string ContrastiveKind = QualityScores.ContrastiveExtractor;
    public required int ImageSize { get; init; }
    public required int Channels { get; init; }
    public required int Classes { get; init; }
    public int Dimensions { get; init; } = FeatureClassifier.FeatureSize;
    public double TestAccuracy { get; init; }
    public int TrainImages { get; init; }
    public int Epochs { get; init; }
    /// <summary>Training steps of a contrastive extractor.</summary>
    public int Steps { get; init; }
    public string Dataset { get; init; } = "";
}

/// <summary>
/// The feature space of the quality metrics: the 128-unit layer of a small network, either a classifier trained once
/// on a labelled dataset (Fashion-MNIST's IDX labels) or a self-supervised encoder trained on an unlabeled dataset
/// version alone (ContrastiveTraining). Kept as a file (a JSON header line, then the module's weights) and identified
/// by its hash, so every score says which extractor made it.
/// </summary>
public sealed class FeatureExtractor : IDisposable
{
    private const int BatchSize = 500;
    public ExtractorInfo Info { get; }
    private readonly FeatureClassifier model;

    private FeatureExtractor(ExtractorInfo info, FeatureClassifier model) { Info = info; this.model = model; }

    /// <summary>Trains the classifier with Adam (lr 1e-3, batch 128) and measures its accuracy on the test set.</summary>
    public static FeatureExtractor Train(ImageTensorDataset train, Tensor trainLabels, ImageTensorDataset test, Tensor testLabels,
        int epochs = 2, int seed = 1, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (train.Count != trainLabels.shape[0] || test.Count != testLabels.shape[0])
            throw new ArgumentException($"{train.Count} training images but {trainLabels.shape[0]} labels, or {test.Count} test images but {testLabels.shape[0]} labels");
        int classes = (int)trainLabels.max().item<long>() + 1;
        torch.manual_seed(seed);
        var model = new FeatureClassifier(train.Channels, train.ImageSize, classes);
        try
        {
            using var optimizer = torch.optim.Adam(model.parameters(), 1e-3);
            using var order = new torch.Generator((ulong)seed);
            const int batch = 128;
            model.train();
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                using var permutation = torch.randperm(train.Count, generator: order);
                double lossSum = 0;
                int steps = train.Count / batch;
                for (int i = 0; i < steps; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var indices = permutation[(i * batch)..((i + 1) * batch)];
                    optimizer.zero_grad();
                    var loss = F.cross_entropy(model.forward(train.Batch(indices)), trainLabels[indices]);
                    loss.backward();
                    optimizer.step();
                    lossSum += loss.item<float>();
                }
                progress?.Report($"extractor epoch {epoch}/{epochs}: mean loss {lossSum / Math.Max(1, steps):0.0000}");
            }
            model.eval();
            return new FeatureExtractor(new ExtractorInfo
            {
                ImageSize = train.ImageSize, Channels = train.Channels, Classes = classes, TrainImages = train.Count, Epochs = epochs,
                Dataset = train.Description, TestAccuracy = AccuracyOf(model, test, testLabels),
            }, model);
        }
        catch
        {
            model.Dispose(); // cancelled or failed: the network's native memory goes now, not at a finalizer
            throw;
        }
    }

    /// <summary>A self-supervised extractor learned from the images alone (no labels), for unlabeled user drops.</summary>
    public static FeatureExtractor TrainSelfSupervised(ImageTensorDataset data, int steps = ContrastiveTraining.DefaultSteps, int seed = 1,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var model = ContrastiveTraining.Train(data, steps, seed, progress, cancellationToken);
        return new FeatureExtractor(new ExtractorInfo
        {
            Kind = ExtractorInfo.ContrastiveKind, ImageSize = data.ImageSize, Channels = data.Channels, Classes = ContrastiveTraining.ProjectionSize,
            TrainImages = data.Count, Steps = steps, Dataset = data.Description,
        }, model);
    }

    public double Accuracy(ImageTensorDataset images, Tensor labels) => AccuracyOf(model, images, labels);

    private static double AccuracyOf(FeatureClassifier model, ImageTensorDataset images, Tensor labels)
    {
        long correct = 0;
        using var inference = torch.inference_mode();
        for (long start = 0; start < images.Count; start += BatchSize)
        {
            using var scope = torch.NewDisposeScope();
            long end = Math.Min(images.Count, start + BatchSize);
            var predicted = model.forward(images.Batch(torch.arange(start, end))).argmax(1);
            correct += predicted.eq(labels.narrow(0, start, end - start)).sum().item<long>();
        }
        return (double)correct / images.Count;
    }

    /// <summary>Features [n, 128] of images [n, C, H, W] in [-1, 1], in batches under inference mode.</summary>
    public Tensor Extract(Tensor images)
    {
        if (images.shape[1] != Info.Channels || images.shape[2] != Info.ImageSize)
            throw new ArgumentException($"the extractor reads {Info.Channels}x{Info.ImageSize}x{Info.ImageSize} images, not {images.shape[1]}x{images.shape[2]}x{images.shape[3]}");
        var parts = new List<Tensor>();
        using (var inference = torch.inference_mode())
            for (long start = 0; start < images.shape[0]; start += BatchSize)
            {
                using var scope = torch.NewDisposeScope();
                parts.Add(model.Features(images.narrow(0, start, Math.Min(images.shape[0], start + BatchSize) - start)).MoveToOuterDisposeScope());
            }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>Features of every image of a dataset (uint8 pixels converted batch by batch).</summary>
    public Tensor Extract(ImageTensorDataset images)
    {
        var parts = new List<Tensor>();
        for (long start = 0; start < images.Count; start += BatchSize)
        {
            using var indices = torch.arange(start, Math.Min(images.Count, start + BatchSize));
            using var batch = images.Batch(indices);
            parts.Add(Extract(batch));
        }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using (var file = File.Create(path))
        using (var writer = new BinaryWriter(file))
        {
            writer.Write(JsonSerializer.Serialize(Info with { Id = "" }, Json.Compact));
            model.save(writer);
        }
    }

    public static FeatureExtractor Load(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string id = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var info = JsonSerializer.Deserialize<ExtractorInfo>(reader.ReadString(), Json.Options)
                   ?? throw new InvalidDataException($"'{path}' has no extractor header");
        var model = new FeatureClassifier(info.Channels, info.ImageSize, info.Classes);
        try { model.load(reader); }
        catch
        {
            model.Dispose(); // a file cut short or of another shape: no network left to a finalizer
            throw;
        }
        model.eval();
        return new FeatureExtractor(info with { Id = id }, model);
    }

    public void Dispose() => model.Dispose();
}
