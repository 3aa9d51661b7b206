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
        var args = Args.Parse(CommandTree.Extractor, rawArgs);
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
        var args = Args.Parse(CommandTree.Eval, rawArgs);
        CliApp.ConfigureRuntime(args);
        using var extractor = FeatureExtractor.Load(args.Required("--extractor"));
        var info = extractor.Info;
        int count = args.Int("--count", 100, 50_000) ?? 10_000;
        using var training = DatasetLoader.Load(args.Required("--data"), info.ImageSize, info.Channels);
        using var heldOut = args.String("--reference") is { } referencePath ? DatasetLoader.Load(referencePath, info.ImageSize, info.Channels, limit: count) : null;
        QualityScores scores;
        if (args.String("--checkpoint") is { } checkpoint)
        {
            using var sampler = ImageSampler.Load(checkpoint);
            var spec = sampler.Spec;
            if (spec.ImageSize != info.ImageSize || spec.Channels != info.Channels)
                throw new UsageException($"the checkpoint makes {spec.Channels}x{spec.ImageSize}x{spec.ImageSize} images; " +
                                         $"the extractor reads {info.Channels}x{info.ImageSize}x{info.ImageSize}");
            using var reference = QualityReference.Compute(extractor, training, heldOut, maxReference: count);
            scores = QualityScoring.Of(sampler, extractor, reference, count);
            output.WriteLine($"eval: {Path.GetFileName(checkpoint)} ({spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels}" +
                             $"{(sampler.Averaged ? ", moving average" : "")}), {count} generated (seeds {QualityScores.FirstSeed}+) against " +
                             $"{scores.ReferenceImages} {(heldOut is null ? "training" : "held-out")} images; extractor {info.Id} ({Describe(info)})");
        }
        else
        {
            // No checkpoint: the held-out images stand in for a perfect generator, against a random subset of the training
            // images (real vs real: what a model that matched the data would score).
            if (heldOut is null) throw new UsageException("'eval' needs --checkpoint, or --reference to score held-out real images against --data");
            using var reference = QualityReference.Compute(extractor, training, maxReference: count);
            using var real = extractor.Extract(heldOut);
            scores = QualityScoring.From(info, reference, real);
            output.WriteLine($"eval: real vs real: {heldOut.Count} held-out images against {scores.ReferenceImages} training images; extractor {info.Id} ({Describe(info)})");
        }
        output.WriteLine(scores.ToString());
        if (args.String("--json") is { } json) File.WriteAllText(json, JsonSerializer.Serialize(scores, Json.Options));
        return 0;
    }

    public static string Describe(ExtractorInfo info) => info.Kind == ExtractorInfo.ContrastiveKind
        ? $"self-supervised, {info.Steps} steps on {info.TrainImages} images"
        : $"classifier, test accuracy {info.TestAccuracy:P2}";
}
