using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>One scoring point of a side: its scores after this many trained seconds and steps.</summary>
public sealed record QualityMark(int Mark, double Seconds, long Steps, QualityScores Scores)
{
    /// <summary>The raw generator's scores where Scores are its moving average's.</summary>
    public QualityScores? Raw { get; init; }
}

/// <summary>
/// imagegen bench quality: ours and the PyTorch reference (bench/reference/quality.py, the same architecture and
/// size) train on Fashion-MNIST's 60,000 training images for the same training-time budget and threads; at evenly
/// spaced marks each side draws N images, and both are scored against the 10,000 test images with one extractor,
/// in one run. Prints FD, KID, precision/recall, memorization, steps and images/s; writes quality.json, fd.png,
/// losses.png and each side's final 64-image grid to --out.
/// </summary>
public static class QualityBenchCommand
{
    public const string DefaultExtractor = "extractors/fmnist.bin";

    public static int Run(Args args, TextWriter output)
    {
        var kind = args.Enum<ModelKind>("--model") ?? ModelKind.Dcgan;
        var budget = args.Duration("--budget") ?? TimeSpan.FromMinutes(10);
        int threads = args.Int("--threads", 1, 1024) ?? 2;
        int samples = args.Int("--samples", 100, 50_000) ?? 10_000;
        int marks = args.Int("--marks", 1, 100) ?? 5;
        int batch = args.Int("--batch-size", 1, TrainOptions.MaxBatchSize) ?? 128;
        int seed = args.Int("--seed", 0, int.MaxValue) ?? 1;
        string outFolder = args.String("--out") ?? $"bench-runs/quality-{kind.ToString().ToLowerInvariant()}";
        string python = args.String("--python") ?? "/usr/bin/python3";
        bool withReference = !args.Has("--ours-only");
        TorchRuntime.Configure(threads);
        if (Directory.Exists(outFolder)) Directory.Delete(outFolder, recursive: true);
        Directory.CreateDirectory(outFolder);

        output.WriteLine($"bench quality: {kind} 32x32x1 on Fashion-MNIST, budget {budget.TotalSeconds:0} s of training per side, threads {threads}, " +
                         $"batch {batch}, {samples} samples at each of {marks} marks, seed {seed}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        using var extractor = LoadOrTrainExtractor(args.String("--extractor") ?? DefaultExtractor, output);
        using var train = DatasetLoader.Load(IdxReader.DebianFashionMnistTrain, 32, 1);
        using var test = DatasetLoader.Load(IdxReader.DebianFashionMnistTest, 32, 1);
        using var reference = QualityReference.Compute(extractor, train, test, maxReference: 10_000);
        output.WriteLine($"extractor {extractor.Info.Id} ({EvalCommand.Describe(extractor.Info)}); reference: {test.Count} test images; memorization against {train.Count} training images");

        var spec = ModelSpec.DefaultFor(kind);
        var ours = TrainOurs(spec, train, budget, marks, batch, seed, samples, extractor, reference, Path.Combine(outFolder, "ours"), output);
        var theirs = withReference ? TrainReference(python, kind, budget, marks, batch, threads, samples, seed, extractor, reference,
            Path.Combine(outFolder, "reference"), output) : [];

        output.WriteLine();
        output.WriteLine($"{"side",-10} {"seconds",8} {"steps",7} {"img/s",7} {"FD",8} {"KID",9} {"prec",6} {"recall",6} {"copies",7}");
        foreach (var (side, points) in new[] { ("ImageGen", ours), ("PyTorch", theirs) })
            foreach (var p in points)
                output.WriteLine($"{side,-10} {p.Seconds,8:0} {p.Steps,7} {p.Steps * batch / Math.Max(p.Seconds, 1e-9),7:0} {p.Scores.Fd,8:0.00} " +
                                 $"{p.Scores.KidMean,9:0.0000} {p.Scores.Precision,6:0.000} {p.Scores.Recall,6:0.000} {p.Scores.NearCopyShare,7:P1}");
        if (ours.Count > 0 && theirs.Count > 0)
        {
            double ratio = ours[^1].Scores.Fd / theirs[^1].Scores.Fd;
            output.WriteLine($"final FD: ImageGen {ours[^1].Scores.Fd:0.00}, PyTorch {theirs[^1].Scores.Fd:0.00}: ours is {(1 - ratio):P1} lower " +
                             $"(ratio {ratio:0.000}); steps {ours[^1].Steps} vs {theirs[^1].Steps}");
        }
        File.WriteAllText(Path.Combine(outFolder, "quality.json"), JsonSerializer.Serialize(new
        {
            model = kind, budgetSeconds = budget.TotalSeconds, threads, batch, samples, marks, seed, machine = TorchRuntime.Describe(),
            extractor = extractor.Info, ours, reference = theirs,
        }, Json.Options));
        Charts.SaveLines(Path.Combine(outFolder, "fd.png"), $"{ModelFamily.For(kind).Name}: FD over training time (Fashion-MNIST, {threads} threads)", "trained seconds", "FD",
            [Series("ImageGen", ours), Series("PyTorch", theirs),
             new ChartSeries("ImageGen raw G", ours.Where(p => p.Raw is not null).Select(p => p.Seconds).ToList(), ours.Where(p => p.Raw is not null).Select(p => p.Raw!.Fd).ToList())],
            logY: true);
        DrawLosses(kind, outFolder, Path.Combine(outFolder, "losses.png"));
        output.WriteLine($"wrote {outFolder}/quality.json, fd.png, losses.png, ours.png, reference.png");
        return 0;
    }

    /// <summary>
    /// imagegen bench eval: what the per-dataset-version cache saves. Cold: train the self-supervised extractor, extract
    /// the real side, score a checkpoint. Warm: load both from files, score the same checkpoint. Same scores, printed.
    /// </summary>
    public static int RunCache(Args args, TextWriter output)
    {
        TorchRuntime.Configure(args.Int("--threads", 1, 1024) ?? 2);
        string checkpoint = args.Required("--checkpoint");
        int steps = args.Int("--steps", 1, 100_000) ?? ContrastiveTraining.DefaultSteps;
        int samples = args.Int("--samples", 100, 50_000) ?? 2000;
        using var sampler = ImageSampler.Load(checkpoint);
        using var data = DatasetLoader.Load(args.String("--data") ?? IdxReader.DebianFashionMnistTrain, sampler.Spec.ImageSize, sampler.Spec.Channels,
            args.Int("--limit", 4, 1_000_000));
        output.WriteLine($"bench eval: {data.Count} images ({data.Description}), extractor {steps} steps, {samples} samples of {checkpoint}");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        using var folder = new TempDirectory();
        var cold = Stopwatch.StartNew();
        using (var trained = FeatureExtractor.TrainSelfSupervised(data, steps)) trained.Save(Path.Combine(folder.Path, "extractor.bin"));
        double extractorSeconds = cold.Elapsed.TotalSeconds;
        using (var extractor = FeatureExtractor.Load(Path.Combine(folder.Path, "extractor.bin")))
        using (var reference = QualityReference.Compute(extractor, data))
        {
            reference.Save(Path.Combine(folder.Path, "reference.bin"));
            double referenceSeconds = cold.Elapsed.TotalSeconds - extractorSeconds;
            var scores = QualityScoring.Of(sampler, extractor, reference, samples);
            output.WriteLine($"cold: {cold.Elapsed.TotalSeconds:0.0} s (extractor {extractorSeconds:0.0} s, real-side features {referenceSeconds:0.0} s, " +
                             $"scoring {cold.Elapsed.TotalSeconds - extractorSeconds - referenceSeconds:0.0} s): {scores}");
        }
        var warm = Stopwatch.StartNew();
        using (var extractor = FeatureExtractor.Load(Path.Combine(folder.Path, "extractor.bin")))
        using (var reference = QualityReference.Load(Path.Combine(folder.Path, "reference.bin"), extractor.Info.Id))
        {
            double loadSeconds = warm.Elapsed.TotalSeconds;
            var scores = QualityScoring.Of(sampler, extractor, reference, samples);
            output.WriteLine($"warm: {warm.Elapsed.TotalSeconds:0.0} s (loading {loadSeconds:0.00} s, scoring {warm.Elapsed.TotalSeconds - loadSeconds:0.0} s): {scores}");
        }
        output.WriteLine($"the cache makes a repeat evaluation {cold.Elapsed.TotalSeconds / warm.Elapsed.TotalSeconds:0.0}x faster");
        return 0;
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("imagegen-bench-eval-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private static ChartSeries Series(string name, List<QualityMark> points) =>
        new(name, points.Select(p => p.Seconds).ToList(), points.Select(p => p.Scores.Fd).ToList());

    private static FeatureExtractor LoadOrTrainExtractor(string path, TextWriter output)
    {
        if (!File.Exists(path))
        {
            output.WriteLine($"{path} not found: training the Fashion-MNIST classifier once (imagegen extractor --out {path})");
            EvalCommand.TrainExtractor(["--out", path], output);
        }
        return FeatureExtractor.Load(path);
    }

    private static List<QualityMark> TrainOurs(ModelSpec spec, ImageTensorDataset train, TimeSpan budget, int marks, int batch, int seed, int samples,
        FeatureExtractor extractor, QualityReference reference, string runFolder, TextWriter output)
    {
        var points = new List<QualityMark>();
        double trained = 0;
        for (int mark = 1; mark <= marks; mark++)
        {
            var clock = Stopwatch.StartNew();
            var result = Trainer.Run(new TrainRequest
            {
                Data = train, Spec = spec, RunFolder = runFolder, Resume = mark > 1,
                // The reference's recipe: no mode-seeking term, whatever the family's default.
                Options = new TrainOptions { TimeBudget = TimeSpan.FromSeconds(budget.TotalSeconds * mark / marks - trained), BatchSize = batch, Seed = seed, ModeSeeking = 0 },
            });
            trained += clock.Elapsed.TotalSeconds;
            using var sampler = ImageSampler.Load(result.CheckpointPath);
            var scores = QualityScoring.Of(sampler, extractor, reference, samples);
            // The same checkpoint's raw generator, to show what the moving average buys.
            QualityScores? raw = null;
            if (sampler.Averaged)
            {
                using var rawSampler = ImageSampler.Load(result.CheckpointPath, raw: true);
                raw = QualityScoring.Of(rawSampler, extractor, reference, samples);
            }
            points.Add(new QualityMark(mark, trained, result.Steps, scores) { Raw = raw });
            output.WriteLine($"ImageGen mark {mark}/{marks}: {trained:0} s, step {result.Steps}: {scores}" + (raw is null ? "" : $"; raw G: FD {raw.Fd:0.00}"));
            if (mark == marks)
            {
                using var grid = sampler.Generate(Seeds.Range(QualityScores.FirstSeed, 64));
                TensorImages.SaveGridPng(grid, Path.Combine(runFolder, "..", "ours.png"));
            }
        }
        return points;
    }

    private static List<QualityMark> TrainReference(string python, ModelKind kind, TimeSpan budget, int marks, int batch, int threads, int samples, int seed,
        FeatureExtractor extractor, QualityReference reference, string folder, TextWriter output)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "bench", "reference", "quality.py");
        if (!File.Exists(script)) script = Path.Combine("bench", "reference", "quality.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
                 {
                     script, "--model", kind.ToString().ToLowerInvariant(), "--budget", budget.TotalSeconds.ToString(CultureInfo.InvariantCulture),
                     "--threads", threads.ToString(CultureInfo.InvariantCulture), "--batch-size", batch.ToString(CultureInfo.InvariantCulture),
                     "--samples", samples.ToString(CultureInfo.InvariantCulture), "--marks", marks.ToString(CultureInfo.InvariantCulture),
                     "--seed", seed.ToString(CultureInfo.InvariantCulture), "--out", folder,
                 })
            start.ArgumentList.Add(arg);
        using (var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}"))
        {
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine($"  reference: {e.Data}"); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine($"  reference: {e.Data}"); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"the PyTorch reference exited with {process.ExitCode} (needs apt-get install python3-torch libopenblas0-pthread)");
        }
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        var points = new List<QualityMark>();
        foreach (var m in summary.RootElement.GetProperty("marks").EnumerateArray())
        {
            int mark = m.GetProperty("k").GetInt32();
            byte[] pixels = File.ReadAllBytes(Path.Combine(folder, $"samples_{mark}.u8"));
            if (pixels.Length != samples * 32 * 32) throw new InvalidDataException($"samples_{mark}.u8 holds {pixels.Length} bytes, not {samples} 32x32 images");
            using var images = new ImageTensorDataset(torch.tensor(pixels, [samples, 1, 32, 32], torch.ScalarType.Byte), $"reference mark {mark}");
            using var features = extractor.Extract(images);
            var scores = QualityScoring.From(extractor.Info, reference, features);
            points.Add(new QualityMark(mark, m.GetProperty("seconds").GetDouble(), m.GetProperty("step").GetInt64(), scores));
            output.WriteLine($"PyTorch mark {mark}/{marks}: {points[^1].Seconds:0} s, step {points[^1].Steps}: {scores}");
            if (mark == marks)
            {
                using var first = images.Batch(torch.arange(64));
                TensorImages.SaveGridPng(first, Path.Combine(folder, "..", "reference.png"));
            }
        }
        return points;
    }

    /// <summary>Both sides' loss curves over steps: ours from steps.jsonl, the reference's from losses.csv.</summary>
    private static void DrawLosses(ModelKind kind, string outFolder, string path)
    {
        var ours = StepMetrics.Read(Path.Combine(outFolder, "ours"));
        string csv = Path.Combine(outFolder, "reference", "losses.csv");
        var theirs = File.Exists(csv)
            ? File.ReadLines(csv).Skip(1).Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList()
            : [];
        // DCGAN: D's and G's losses on both sides. VAE: the loss per image on both sides (reference: BCE + KL summed per image).
        var series = new List<ChartSeries>();
        string[] ourNames = kind == ModelKind.Dcgan ? ["loss_d", "loss_g"] : ["loss"];
        for (int i = 0; i < ourNames.Length; i++)
        {
            var name = ourNames[i];
            if (ours.Count > 0 && ours[0].Losses.ContainsKey(name))
                series.Add(new ChartSeries($"ImageGen {name}", ours.Select(l => (double)l.Step).ToList(), ours.Select(l => l.Losses[name]).ToList()));
            if (theirs.Count > 0)
                series.Add(new ChartSeries($"PyTorch {name}", theirs.Select(r => r[1]).ToList(), theirs.Select(r => r[2 + i]).ToList()));
        }
        Charts.SaveLines(path, $"{ModelFamily.For(kind).Name}: training losses", "step", "loss", series);
    }
}
