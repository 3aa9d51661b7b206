using System.Text.Json;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen extractor: train the metrics' feature extractor once (a classifier from a labelled IDX set, or
/// --self-supervised from unlabeled images) and keep it as a file.
/// imagegen eval: score a checkpoint with it (FD, KID, precision/recall, memorization) against held-out images.
/// </summary>
public static class EvalCommand
{
    public static int TrainExtractor(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse("extractor", rawArgs,
            ["--data", "--labels", "--test-data", "--test-labels", "--out", "--epochs", "--steps", "--image-size", "--channels", "--threads", "--seed"],
            ["--self-supervised"]);
        CliApp.ConfigureRuntime(args);
        int imageSize = args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32;
        int seed = args.Int("--seed", 0, int.MaxValue) ?? 1;
        string path = args.Required("--out");
        var progress = new Progress<string>(output.WriteLine);
        if (args.Has("--self-supervised"))
        {
            // Unlabeled images: what the pipeline makes for every dataset version.
            using var data = DatasetLoader.Load(args.Required("--data"), imageSize, args.Choice("--channels", ModelSpec.SupportedChannels) ?? 1);
            using var contrastive = FeatureExtractor.TrainSelfSupervised(data, args.Int("--steps", 1, 100_000) ?? ContrastiveTraining.DefaultSteps, seed, progress);
            contrastive.Save(path);
        }
        else
        {
            using var train = DatasetLoader.Load(args.String("--data") ?? IdxReader.DebianFashionMnistTrain, imageSize, 1);
            using var trainLabels = IdxReader.ReadLabels(args.String("--labels") ?? IdxReader.DebianFashionMnistTrainLabels);
            using var test = DatasetLoader.Load(args.String("--test-data") ?? IdxReader.DebianFashionMnistTest, imageSize, 1);
            using var testLabels = IdxReader.ReadLabels(args.String("--test-labels") ?? IdxReader.DebianFashionMnistTestLabels);
            using var classifier = FeatureExtractor.Train(train, trainLabels, test, testLabels, args.Int("--epochs", 1, 100) ?? 2, seed, progress);
            classifier.Save(path);
        }
        using var saved = FeatureExtractor.Load(path);
        output.WriteLine($"extractor {saved.Info.Id} ({Describe(saved.Info)}): written to {path}");
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
        using var heldOut = args.String("--reference") is { } referencePath ? DatasetLoader.Load(referencePath, spec.ImageSize, spec.Channels, limit: count) : null;
        using var reference = QualityReference.Compute(extractor, training, heldOut, maxReference: count);
        var scores = QualityScores.Of(sampler, extractor, reference, count);
        output.WriteLine($"eval: {Path.GetFileName(args.Required("--checkpoint"))} ({spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels}), " +
                         $"{count} generated (seeds {QualityScores.FirstSeed}+) against {scores.ReferenceImages} {(heldOut is null ? "training" : "held-out")} images; " +
                         $"extractor {extractor.Info.Id} ({Describe(extractor.Info)})");
        output.WriteLine(scores.ToString());
        if (args.String("--json") is { } json) File.WriteAllText(json, JsonSerializer.Serialize(scores, Json.Options));
        return 0;
    }

    public static string Describe(ExtractorInfo info) => info.Kind == ExtractorInfo.ContrastiveKind
        ? $"self-supervised, {info.Steps} steps on {info.TrainImages} images"
        : $"classifier, test accuracy {info.TestAccuracy:P2}";
}
