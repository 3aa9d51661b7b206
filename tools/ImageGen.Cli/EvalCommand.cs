using System.Text.Json;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen extractor: train the metrics' feature classifier once from a labelled IDX set and keep it as a file.
/// imagegen eval: score a checkpoint with it (FD, KID, precision/recall, memorization) against held-out images.
/// </summary>
public static class EvalCommand
{
    public static int TrainExtractor(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse("extractor", rawArgs, ["--data", "--labels", "--test-data", "--test-labels", "--out", "--epochs", "--image-size", "--threads", "--seed"], []);
        CliApp.ConfigureRuntime(args);
        int imageSize = args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32;
        using var train = DatasetLoader.Load(args.String("--data") ?? IdxReader.DebianFashionMnistTrain, imageSize, 1);
        using var trainLabels = IdxReader.ReadLabels(args.String("--labels") ?? IdxReader.DebianFashionMnistTrainLabels);
        using var test = DatasetLoader.Load(args.String("--test-data") ?? IdxReader.DebianFashionMnistTest, imageSize, 1);
        using var testLabels = IdxReader.ReadLabels(args.String("--test-labels") ?? IdxReader.DebianFashionMnistTestLabels);
        var progress = new Progress<string>(output.WriteLine);
        using var extractor = FeatureExtractor.Train(train, trainLabels, test, testLabels, args.Int("--epochs", 1, 100) ?? 2,
            args.Int("--seed", 0, int.MaxValue) ?? 1, progress);
        string path = args.Required("--out");
        extractor.Save(path);
        using var saved = FeatureExtractor.Load(path);
        output.WriteLine($"extractor {saved.Info.Id}: test accuracy {saved.Info.TestAccuracy:P2} on {test.Count} images; written to {path}");
        return 0;
    }

    public static int Run(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse("eval", rawArgs, ["--checkpoint", "--data", "--reference", "--extractor", "--count", "--threads", "--json"], []);
        CliApp.ConfigureRuntime(args);
        using var extractor = FeatureExtractor.Load(args.Required("--extractor"));
        using var sampler = ImageSampler.Load(args.Required("--checkpoint"));
        var spec = sampler.Spec;
        if (spec.ImageSize != extractor.Info.ImageSize || spec.Channels != extractor.Info.Channels)
            throw new UsageException($"the checkpoint makes {spec.Channels}x{spec.ImageSize}x{spec.ImageSize} images; " +
                                     $"the extractor reads {extractor.Info.Channels}x{extractor.Info.ImageSize}x{extractor.Info.ImageSize}");
        int count = args.Int("--count", 100, 50_000) ?? 10_000;
        using var training = DatasetLoader.Load(args.Required("--data"), spec.ImageSize, spec.Channels);
        using var reference = DatasetLoader.Load(args.String("--reference") ?? args.Required("--data"), spec.ImageSize, spec.Channels, limit: count);
        using var trainingFeatures = extractor.Extract(training);
        using var referenceFeatures = extractor.Extract(reference);
        using var generatedFeatures = GeneratedFeatures(sampler, extractor, count);
        var scores = QualityScores.From(extractor.Info, referenceFeatures, generatedFeatures, trainingFeatures);
        output.WriteLine($"eval: {Path.GetFileName(args.Required("--checkpoint"))} ({spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels}), " +
                         $"{count} generated (seeds 1000000+) against {reference.Count} reference images; extractor {extractor.Info.Id} " +
                         $"(test accuracy {extractor.Info.TestAccuracy:P2})");
        output.WriteLine($"FD {scores.Fd:0.00}  KID {scores.KidMean:0.0000} ± {scores.KidStd:0.0000}  " +
                         $"precision {scores.Precision:0.000}  recall {scores.Recall:0.000}  " +
                         $"near-copies {scores.NearCopyShare:P2} (median ratio {scores.MedianCopyRatio:0.00})");
        if (args.String("--json") is { } json) File.WriteAllText(json, JsonSerializer.Serialize(scores, Json.Options));
        return 0;
    }

    /// <summary>Features of count generated images, drawn and extracted 500 at a time so memory stays bounded.</summary>
    private static torch.Tensor GeneratedFeatures(ImageSampler sampler, FeatureExtractor extractor, int count)
    {
        var parts = new List<torch.Tensor>();
        for (int start = 0; start < count; start += 500)
        {
            using var images = sampler.Generate(Seeds.Range(1_000_000 + start, Math.Min(500, count - start)));
            parts.Add(extractor.Extract(images));
        }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }
}
