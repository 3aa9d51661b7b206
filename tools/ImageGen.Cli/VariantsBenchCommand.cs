using System.Text.Json;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// One trained run of a variant: its scores, the raw generator's where the run kept a moving average, and for a
/// class-conditional run the scores of the same network with its classes drawn uniformly (as models saved before class
/// sizes were recorded draw them) instead of as often as the training data holds them.
/// </summary>
public sealed record VariantRun(string Variant, int Seed, long Steps, double Seconds, QualityScores Scores, QualityScores? Raw, QualityScores? UniformClasses = null)
{
    /// <summary>Class-conditional runs: the share of samples of each class that the classifier assigns to that class.</summary>
    public Dictionary<string, double>? ClassAccuracy { get; init; }
}

/// <summary>
/// imagegen bench variants: training recipes side by side at equal steps on the same images. Each variant is a set of
/// training options written as in imagegen.json (name={"augment":"all"}); every variant trains once per seed on one
/// fixed random subset of the data, and every run is scored with one extractor against one reference (Fashion-MNIST:
/// the classifier against the 10,000 test images; other data: the extractor and held-out images given, else a
/// self-supervised extractor against the data itself).
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
        string? labelsPath = args.Has("--labels") ? fashion ? IdxReader.DebianFashionMnistTrainLabels : args.Required("--data-labels") : null;
        using var all = WithLabels(DatasetLoader.Load(data, imageSize, channels), labelsPath);
        using var train = Subset(all, limit);
        string? judgePath = args.String("--extractor") ?? (fashion ? QualityBenchCommand.DefaultExtractor : null);
        using var extractor = judgePath is not null
            ? FeatureExtractor.Load(judgePath)
            : FeatureExtractor.TrainSelfSupervised(train, args.Int("--extractor-steps", 10, 100_000) ?? ContrastiveTraining.DefaultSteps);
        string? heldOut = fashion ? IdxReader.DebianFashionMnistTest : args.String("--reference");
        if (!fashion && (judgePath is null) != (heldOut is null))
            throw new UsageException("--extractor and --reference come together for data other than Fashion-MNIST: a judge and the held-out images it scores against");
        using var test = heldOut is not null ? DatasetLoader.Load(heldOut, imageSize, channels) : null;
        using var reference = QualityReference.Compute(extractor, train, test, maxReference: 10_000);
        output.WriteLine($"extractor {extractor.Info.Id} ({EvalCommand.Describe(extractor.Info)}); reference: {(test is null ? $"the {train.Count} training images" : $"{test.Count} test images")}");
        if (fashion && test is not null && train.ClassNames.Count > 0)
        {
            var judge = RealClassAccuracy(extractor, test);
            output.WriteLine($"the classifier on real test images, per class (the ceiling a perfect conditional generator would reach): {judge["overall"]:P1} " +
                             $"({string.Join(", ", judge.Where(a => a.Key != "overall").Select(a => $"{a.Key} {a.Value:P0}"))})");
        }

        var runs = new List<VariantRun>();
        var clustered = new Dictionary<int, ImageTensorDataset>();
        foreach (int seed in seeds)
            foreach (var (name, settings, _) in variants)
            {
                string runFolder = Path.Combine(outFolder, $"{name}-seed{seed}");
                if (Directory.Exists(runFolder)) Directory.Delete(runFolder, recursive: true);
                var spec = settings.Spec with { ImageSize = imageSize, Channels = channels };
                var options = ImageClusters.Resolve(settings.Options, spec.Kind, train);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = Trainer.Run(new TrainRequest
                {
                    Data = options.Clusters is > 0 ? Clustered(train, options, clustered, output) : train, Spec = spec, RunFolder = runFolder,
                    Options = options with { MaxSteps = steps, Seed = seed, SampleEveryEpochs = int.MaxValue / 2 },
                });
                double seconds = clock.Elapsed.TotalSeconds;
                using var sampler = ImageSampler.Load(result.CheckpointPath);
                var scores = QualityScoring.Of(sampler, extractor, reference, samples);
                QualityScores? raw = null;
                if (sampler.Averaged)
                {
                    using var rawSampler = ImageSampler.Load(result.CheckpointPath, raw: true);
                    raw = QualityScoring.Of(rawSampler, extractor, reference, samples);
                }
                var uniform = sampler.ClassSizes.Count > 0 ? UniformClassScores(result.CheckpointPath, extractor, reference, samples) : null;
                var accuracy = sampler.ClassNames.SequenceEqual(FashionMnistClasses) ? ClassAccuracy(sampler, extractor, samples / sampler.Spec.Classes) : null;
                runs.Add(new VariantRun(name, seed, result.Steps, seconds, scores, raw, uniform) { ClassAccuracy = accuracy });
                output.WriteLine($"{name} seed {seed}: {result.Steps} steps in {seconds:0} s: {scores}" + (raw is null ? "" : $"; raw G: FD {raw.Fd:0.00}") +
                                 (uniform is null ? "" : $"; classes uniform: FD {uniform.Fd:0.00}, precision {uniform.Precision:0.000}, recall {uniform.Recall:0.000} " +
                                                         $"(class sizes {string.Join(" ", sampler.ClassSizes)})") +
                                 (accuracy is null ? "" : $"; class accuracy {accuracy["overall"]:P1} ({string.Join(", ", accuracy.Where(a => a.Key != "overall").Select(a => $"{a.Key} {a.Value:P0}"))})"));
            }

        output.WriteLine();
        output.WriteLine($"{"variant",-16} {"runs",4} {"FD median",10} {"FD mean ± sd",16} {"vs first",8} {"raw G median",12} {"prec",6} {"recall",6} {"copies",7} {"uniform classes median",22}");
        double? firstMedian = null;
        foreach (var (name, _, _) in variants)
        {
            var mine = runs.Where(r => r.Variant == name).ToList();
            var fd = mine.Select(r => r.Scores.Fd).ToList();
            double median = Median(fd), mean = fd.Average(), sd = Math.Sqrt(fd.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, fd.Count - 1));
            firstMedian ??= median;
            string rawMedian = mine.All(r => r.Raw is not null) ? Median(mine.Select(r => r.Raw!.Fd).ToList()).ToString("0.00") : "-";
            string uniformMedian = mine.All(r => r.UniformClasses is not null) ? Median(mine.Select(r => r.UniformClasses!.Fd).ToList()).ToString("0.00") : "-";
            output.WriteLine($"{name,-16} {mine.Count,4} {median,10:0.00} {$"{mean:0.00} ± {sd:0.00}",16} {median / firstMedian.Value,8:0.000} {rawMedian,12} " +
                             $"{Median(mine.Select(r => r.Scores.Precision).ToList()),6:0.000} {Median(mine.Select(r => r.Scores.Recall).ToList()),6:0.000} " +
                             $"{Median(mine.Select(r => r.Scores.NearCopyShare).ToList()),7:P2} {uniformMedian,22}");
        }
        foreach (var labelled in clustered.Values) labelled.Dispose();
        File.WriteAllText(Path.Combine(outFolder, "variants.json"), JsonSerializer.Serialize(new
        {
            data, limit, steps, seeds, samples, imageSize, channels, threads, machine = TorchRuntime.Describe(), extractor = extractor.Info,
            variants = variants.Select(v => new { v.Name, v.Json }), runs,
        }, Json.Options));
        output.WriteLine($"wrote {outFolder}/variants.json");
        return 0;
    }

    /// <summary>
    /// Scores of a class-conditional checkpoint's network with its classes drawn uniformly: a copy of the checkpoint
    /// without its class sizes, as one saved before they were recorded, sampled at the same seeds.
    /// </summary>
    private static QualityScores UniformClassScores(string checkpointPath, FeatureExtractor extractor, QualityReference reference, int samples)
    {
        var (header, sections) = Checkpoint.Read(checkpointPath);
        string copy = Path.Combine(Path.GetDirectoryName(checkpointPath)!, "uniform-classes.ckpt");
        Checkpoint.Write(copy, header with { ClassSizes = [] }, Checkpoint.SectionsAsRead(sections));
        using var sampler = ImageSampler.Load(copy);
        return QualityScoring.Of(sampler, extractor, reference, samples);
    }

    /// <summary>
    /// The images labelled by a variant's clusters (ImageClusters, as training would find them in unlabelled data), made
    /// once per cluster count in an invocation. Prints the clusters' sizes, and their purity against the data's own labels
    /// where it has them (--labels): the share of images whose cluster's most common label is their own.
    /// </summary>
    private static ImageTensorDataset Clustered(ImageTensorDataset images, TrainOptions options, Dictionary<int, ImageTensorDataset> made, TextWriter output)
    {
        int k = options.Clusters!.Value;
        if (made.TryGetValue(k, out var done)) return done;
        using var unlabelled = images.WithoutLabels();
        var clustered = ImageClusters.Label(unlabelled, options)!;
        var assigned = clustered.Labels!.data<long>().ToArray();
        string purity = "";
        if (images.Labels is not null)
        {
            var truth = images.Labels.data<long>().ToArray();
            int agree = assigned.Select((cluster, i) => (cluster, label: truth[i])).GroupBy(p => p.cluster).Sum(g => g.GroupBy(p => p.label).Max(l => l.Count()));
            purity = $", purity against the labels {(double)agree / images.Count:P1}";
        }
        output.WriteLine($"clusters: {k} by k-means over a self-supervised extractor's features; sizes {string.Join(" ", clustered.ClassSizes())}{purity}");
        return made[k] = clustered;
    }

    public static readonly string[] FashionMnistClasses = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

    /// <summary>
    /// The training images with their labels from an IDX labels file (Fashion-MNIST's, named by its classes; others,
    /// named by their numbers), so variants train class-conditionally by default; the images alone without one.
    /// </summary>
    private static ImageTensorDataset WithLabels(ImageTensorDataset images, string? labelsPath)
    {
        if (labelsPath is null) return images;
        var labels = IdxReader.ReadLabels(labelsPath, images.Count);
        int classes = (int)labels.max().item<long>() + 1;
        string[] names = labelsPath == IdxReader.DebianFashionMnistTrainLabels ? FashionMnistClasses : [.. Enumerable.Range(0, classes).Select(c => c.ToString())];
        return new ImageTensorDataset(images.Pixels, images.Description + " with labels", labels, names);
    }

    /// <summary>
    /// For each class, perClass images drawn for that class (seeds from QualityScores.FirstSeed) and classified by the
    /// extractor (a classifier trained on real labels): the share it assigns to the class asked for, and overall.
    /// </summary>
    public static Dictionary<string, double> ClassAccuracy(ImageSampler sampler, FeatureExtractor extractor, int perClass)
    {
        var result = new Dictionary<string, double>();
        double total = 0;
        for (int c = 0; c < sampler.Spec.Classes; c++)
        {
            using var scope = torch.NewDisposeScope();
            var images = sampler.Generate(Seeds.Range(QualityScores.FirstSeed, perClass), classes: Enumerable.Repeat(c, perClass).ToArray());
            var bytes = images.add(1).mul_(127.5).round_().clamp_(0, 255).to_type(torch.ScalarType.Byte);
            using var asData = new ImageTensorDataset(bytes, "samples");
            double accuracy = extractor.Accuracy(asData, torch.full(perClass, c, dtype: torch.ScalarType.Int64));
            result[sampler.ClassNames[c]] = accuracy;
            total += accuracy;
        }
        result["overall"] = total / sampler.Spec.Classes;
        return result;
    }

    /// <summary>
    /// The classifier's accuracy on Fashion-MNIST's real test images, per class and overall (the mean over classes, as
    /// ClassAccuracy averages): what the class accuracy of a generator's samples is to be read against.
    /// </summary>
    public static Dictionary<string, double> RealClassAccuracy(FeatureExtractor extractor, ImageTensorDataset test)
    {
        using var labels = IdxReader.ReadLabels(IdxReader.DebianFashionMnistTestLabels, test.Count);
        var result = new Dictionary<string, double>();
        for (int c = 0; c < FashionMnistClasses.Length; c++)
        {
            using var scope = torch.NewDisposeScope();
            var indices = labels.eq(c).nonzero().flatten();
            using var ofClass = test.Select(indices, FashionMnistClasses[c]);
            result[FashionMnistClasses[c]] = extractor.Accuracy(ofClass, torch.full(indices.shape[0], c, dtype: torch.ScalarType.Int64));
        }
        result["overall"] = result.Values.Average();
        return result;
    }

    /// <summary>
    /// bench warmstart: a parent run on --limit Fashion-MNIST images, then a follow-up on 5% more, warm-started from the
    /// parent and scored at marks until it reaches the parent's FD; with --fresh also a fresh follow-up, scored at the same
    /// marks up to the parent's steps. Options with clusters train the parent on its images' clusters (a self-supervised
    /// extractor trained on them, as the pipeline's dataset version extractor is), the warm follow-up on the same clusters
    /// carried to the new images by nearest centre (ImageClusters.LabelLike), and the fresh one on clusters of its own.
    /// </summary>
    public static int RunWarmStart(Args args, TextWriter output)
    {
        int threads = args.Int("--threads", 1, 1024) ?? 2;
        TorchRuntime.Configure(threads);
        int limit = args.Int("--limit", 16, 1_000_000) ?? 1000;
        long steps = args.Long("--steps", 1, 10_000_000) ?? 1000;
        int samples = args.Int("--samples", 100, 50_000) ?? 5000;
        int seed = args.Int("--seed", 0, int.MaxValue) ?? 1;
        int marks = args.Int("--marks", 1, 100) ?? 10;
        bool fresh = args.Has("--fresh");
        string outFolder = args.String("--out") ?? "bench-runs/warmstart";
        var settings = ParseVariants($"parent={args.String("--options") ?? "{}"}")[0].Settings;
        int more = Math.Max(1, limit / 20);
        using var all = DatasetLoader.Load(IdxReader.DebianFashionMnistTrain, 32, 1);
        using var grown = Subset(all, limit + more);
        using var firstIndices = torch.arange(limit);
        using var parentImages = grown.Select(firstIndices, $"{limit} of the {limit + more}");
        var options = ImageClusters.Resolve(settings.Options, settings.Spec.Kind, parentImages);
        int? clusters = options.Clusters is > 0 ? options.Clusters : null;
        long every = Math.Max(1, steps / 4 / marks);
        output.WriteLine($"bench warmstart: parent {steps} steps on {limit} Fashion-MNIST images; follow-up on {limit + more} (5% more), scored every {every} steps " +
                         $"up to {steps / 4}{(fresh ? $", and a fresh follow-up up to {steps}" : "")}; {(clusters is { } c ? $"{c} clusters; " : "")}{samples} samples per score, " +
                         $"seed {seed}, threads {threads}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        using var extractor = FeatureExtractor.Load(args.String("--extractor") ?? QualityBenchCommand.DefaultExtractor);
        using var test = DatasetLoader.Load(IdxReader.DebianFashionMnistTest, 32, 1);
        using var reference = QualityReference.Compute(extractor, grown, test, maxReference: 10_000);
        if (Directory.Exists(outFolder)) Directory.Delete(outFolder, recursive: true);

        // The training data of each run: the images themselves, or labelled by clusters as the pipeline would label them.
        ImageTensorDataset? parentData = null, warmData = null, freshData = null;
        try
        {
            if (clusters is { } k)
            {
                using (var parentExtractor = FeatureExtractor.TrainSelfSupervised(parentImages, ContrastiveTraining.DefaultSteps, ImageClusters.Seed))
                {
                    parentData = ImageClusters.Label(parentImages, k, parentExtractor);
                    warmData = ImageClusters.LabelLike(grown, parentData, parentExtractor, out string? whyNot)
                               ?? throw new UsageException($"the parent's clusters cannot be carried to the follow-up's images: {whyNot}");
                }
                output.WriteLine($"clusters: parent {string.Join(" ", parentData.ClassSizes())}; carried to the follow-up {string.Join(" ", warmData.ClassSizes())}");
                if (fresh)
                {
                    freshData = ImageClusters.Label(grown, options)!;
                    output.WriteLine($"clusters: the fresh follow-up's own {string.Join(" ", freshData.ClassSizes())}");
                }
            }

            var parent = Trainer.Run(new TrainRequest
            {
                Data = parentData ?? parentImages, Spec = settings.Spec, RunFolder = Path.Combine(outFolder, "parent"),
                Options = options with { MaxSteps = steps, Seed = seed, SampleEveryEpochs = int.MaxValue / 2 },
            });
            double parentFd;
            using (var sampler = ImageSampler.Load(parent.CheckpointPath)) parentFd = QualityScoring.Of(sampler, extractor, reference, samples).Fd;
            output.WriteLine($"parent: {parent.Steps} steps, FD {parentFd:0.00}");

            // Trains a follow-up mark by mark and scores it at each; the step at which it first reached the parent's FD.
            long? FollowUp(string name, ImageTensorDataset data, string? initFrom, long upTo)
            {
                string folder = Path.Combine(outFolder, name);
                for (long at = every; at <= upTo; at += every)
                {
                    Trainer.Run(new TrainRequest
                    {
                        Data = data, Spec = settings.Spec, RunFolder = folder, Resume = at > every, InitFrom = at > every ? null : initFrom,
                        Options = options with { MaxSteps = at, Seed = seed + 1, SampleEveryEpochs = int.MaxValue / 2 },
                    });
                    using var sampler = ImageSampler.Load(folder);
                    double fd = QualityScoring.Of(sampler, extractor, reference, samples).Fd;
                    output.WriteLine($"{name} after {at} steps: FD {fd:0.00}");
                    if (fd <= parentFd) return at;
                }
                return null;
            }
            void Report(string name, long? reached, long upTo) => output.WriteLine(reached is { } r
                ? $"the {name} reached the parent's FD {parentFd:0.00} after {r} steps: {(double)r / steps:P1} of the parent's {steps}"
                : $"the {name} did not reach the parent's FD {parentFd:0.00} within {upTo} steps ({(double)upTo / steps:P0} of the parent's)");
            var warm = FollowUp("follow-up", warmData ?? grown, parent.CheckpointPath, steps / 4);
            var fromScratch = fresh ? FollowUp("fresh follow-up", freshData ?? grown, null, steps) : null;
            Report("follow-up", warm, steps / 4);
            if (fresh) Report("fresh follow-up", fromScratch, steps);
            return 0;
        }
        finally
        {
            parentData?.Dispose();
            warmData?.Dispose();
            freshData?.Dispose();
        }
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
        using var random = new torch.Generator(0);
        using var order = torch.randperm(all.Count, generator: random);
        using var picked = order[..Math.Min(limit, all.Count)];
        return all.Select(picked, $"{all.Description} (random {picked.shape[0]})");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
