using System.Text.Json;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>One trained run of a variant: its scores, and the raw generator's where the run kept a moving average.</summary>
public sealed record VariantRun(string Variant, int Seed, long Steps, double Seconds, QualityScores Scores, QualityScores? Raw);

/// <summary>
/// imagegen bench variants: training recipes side by side at equal steps on the same images. Each variant is a set of
/// training options written as in imagegen.json (name={"augment":"all"}); every variant trains once per seed on one
/// fixed random subset of the data, and every run is scored with one extractor against one reference (Fashion-MNIST:
/// the classifier against the 10,000 test images; other data: a self-supervised extractor against the data itself).
/// Prints each run, then per variant the median and mean ± sd of FD and its ratio to the first variant's median.
/// </summary>
public static class VariantsBenchCommand
{
    public static int Run(Args args, TextWriter output)
    {
        int threads = args.Int("--threads", 1, 1024) ?? 2;
        TorchRuntime.Configure(threads);
        string data = args.String("--data") ?? IdxReader.DebianFashionMnistTrain;
        int limit = args.Int("--limit", 16, 1_000_000) ?? 1000;
        long steps = args.Long("--steps", 1, 10_000_000) ?? 1500;
        int samples = args.Int("--samples", 100, 50_000) ?? 5000;
        int[] seeds = Seeds.Parse(args.String("--seeds") ?? "1-3", 100).Select(s => (int)s).ToArray();
        int channels = args.Choice("--channels", ModelSpec.SupportedChannels) ?? 1;
        int imageSize = args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32;
        string outFolder = args.String("--out") ?? "bench-runs/variants";
        var variants = ParseVariants(args.String("--variants") ?? "base={};diffaugment={\"augment\":\"all\"}");

        bool fashion = data == IdxReader.DebianFashionMnistTrain;
        output.WriteLine($"bench variants: {string.Join(", ", variants.Select(v => v.Name))}; {limit} images of {(fashion ? "Fashion-MNIST" : data)} at " +
                         $"{imageSize}x{imageSize}x{channels}, {steps} steps, seeds {string.Join(",", seeds)}, {samples} samples per score, threads {threads}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        using var all = DatasetLoader.Load(data, imageSize, channels);
        using var train = Subset(all, limit);
        using var extractor = fashion
            ? FeatureExtractor.Load(args.String("--extractor") ?? QualityBenchCommand.DefaultExtractor)
            : FeatureExtractor.TrainSelfSupervised(train, args.Int("--extractor-steps", 10, 100_000) ?? ContrastiveTraining.DefaultSteps);
        using var test = fashion ? DatasetLoader.Load(IdxReader.DebianFashionMnistTest, imageSize, channels) : null;
        using var reference = QualityReference.Compute(extractor, train, test, maxReference: 10_000);
        output.WriteLine($"extractor {extractor.Info.Id} ({EvalCommand.Describe(extractor.Info)}); reference: {(test is null ? $"the {train.Count} training images" : $"{test.Count} test images")}");

        var runs = new List<VariantRun>();
        foreach (int seed in seeds)
            foreach (var (name, settings, _) in variants)
            {
                string runFolder = Path.Combine(outFolder, $"{name}-seed{seed}");
                if (Directory.Exists(runFolder)) Directory.Delete(runFolder, recursive: true);
                var spec = settings.Spec with { ImageSize = imageSize, Channels = channels };
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = Trainer.Run(new TrainRequest
                {
                    Data = train, Spec = spec, RunFolder = runFolder,
                    Options = settings.Options with { MaxSteps = steps, Seed = seed, SampleEveryEpochs = int.MaxValue / 2 },
                });
                double seconds = clock.Elapsed.TotalSeconds;
                using var sampler = ImageSampler.Load(result.CheckpointPath);
                var scores = QualityScores.Of(sampler, extractor, reference, samples);
                QualityScores? raw = null;
                if (sampler.Averaged)
                {
                    using var rawSampler = ImageSampler.Load(result.CheckpointPath, raw: true);
                    raw = QualityScores.Of(rawSampler, extractor, reference, samples);
                }
                runs.Add(new VariantRun(name, seed, result.Steps, seconds, scores, raw));
                output.WriteLine($"{name} seed {seed}: {result.Steps} steps in {seconds:0} s: {scores}" + (raw is null ? "" : $"; raw G: FD {raw.Fd:0.00}"));
            }

        output.WriteLine();
        output.WriteLine($"{"variant",-16} {"runs",4} {"FD median",10} {"FD mean ± sd",16} {"vs first",8} {"raw G median",12} {"prec",6} {"recall",6} {"copies",7}");
        double? firstMedian = null;
        foreach (var (name, _, _) in variants)
        {
            var mine = runs.Where(r => r.Variant == name).ToList();
            var fd = mine.Select(r => r.Scores.Fd).ToList();
            double median = Median(fd), mean = fd.Average(), sd = Math.Sqrt(fd.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, fd.Count - 1));
            firstMedian ??= median;
            string rawMedian = mine.All(r => r.Raw is not null) ? Median(mine.Select(r => r.Raw!.Fd).ToList()).ToString("0.00") : "-";
            output.WriteLine($"{name,-16} {mine.Count,4} {median,10:0.00} {$"{mean:0.00} ± {sd:0.00}",16} {median / firstMedian.Value,8:0.000} {rawMedian,12} " +
                             $"{Median(mine.Select(r => r.Scores.Precision).ToList()),6:0.000} {Median(mine.Select(r => r.Scores.Recall).ToList()),6:0.000} " +
                             $"{Median(mine.Select(r => r.Scores.NearCopyShare).ToList()),7:P2}");
        }
        File.WriteAllText(Path.Combine(outFolder, "variants.json"), JsonSerializer.Serialize(new
        {
            data, limit, steps, seeds, samples, imageSize, channels, threads, machine = TorchRuntime.Describe(), extractor = extractor.Info,
            variants = variants.Select(v => new { v.Name, v.Json }), runs,
        }, Json.Options));
        output.WriteLine($"wrote {outFolder}/variants.json");
        return 0;
    }

    /// <summary>name={json};name={json}: each variant's options as imagegen.json would hold them, read by the one options table.</summary>
    public static List<(string Name, TrainSettings Settings, string Json)> ParseVariants(string text)
    {
        var variants = new List<(string, TrainSettings, string)>();
        foreach (string part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = part.IndexOf('=');
            if (equals <= 0) throw new UsageException($"--variants: '{part}' is not name={{json options}}");
            string name = part[..equals].Trim(), json = part[(equals + 1)..].Trim();
            var settings = TrainSettings.FromValues(TrainSettings.ParseJsonObject(json, $"--variants {name}"), $"--variants {name}");
            variants.Add((name, settings, json));
        }
        if (variants.Count == 0) throw new UsageException("--variants names no variant");
        return variants;
    }

    /// <summary>The same random subset for every variant and seed (drawn with seed 0).</summary>
    private static ImageTensorDataset Subset(ImageTensorDataset all, int limit)
    {
        if (limit >= all.Count) return new ImageTensorDataset(all.Pixels.clone(), all.Description);
        using var random = new torch.Generator(0);
        using var order = torch.randperm(all.Count, generator: random);
        using var picked = order[..limit];
        return new ImageTensorDataset(all.Pixels.index_select(0, picked), $"{all.Description} (random {limit})");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
