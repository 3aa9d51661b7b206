using System.Diagnostics;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>Benchmarks that print numbers with the settings and machine they ran on. Not tests: nothing here asserts a time.</summary>
public static class BenchCommand
{
    public static int Run(string[] rawArgs, TextWriter output)
    {
        if (rawArgs.Length == 0) throw new UsageException("bench needs a target: train, sample, http, overhead, pipeline, promote, eval, quality, variants or warmstart");
        return rawArgs[0] switch
        {
            "train" => Train(Args.Parse(CommandTree.Bench.Target("train"), rawArgs[1..], "bench train"), output),
            "sample" => Sample(Args.Parse(CommandTree.Bench.Target("sample"), rawArgs[1..], "bench sample"), output),
            "http" => HttpBenchCommand.RunAsync(Args.Parse(CommandTree.Bench.Target("http"), rawArgs[1..], "bench http"), output).GetAwaiter().GetResult(),
            "overhead" => HttpBenchCommand.Overhead(Args.Parse(CommandTree.Bench.Target("overhead"), rawArgs[1..], "bench overhead"), output),
            "pipeline" => PipelineBenchCommand.RunAsync(Args.Parse(CommandTree.Bench.Target("pipeline"), rawArgs[1..], "bench pipeline"), output).GetAwaiter().GetResult(),
            "promote" => PromoteBenchCommand.RunAsync(Args.Parse(CommandTree.Bench.Target("promote"), rawArgs[1..], "bench promote"), output).GetAwaiter().GetResult(),
            "eval" => QualityBenchCommand.RunCache(Args.Parse(CommandTree.Bench.Target("eval"), rawArgs[1..], "bench eval"), output),
            "quality" => QualityBenchCommand.Run(Args.Parse(CommandTree.Bench.Target("quality"), rawArgs[1..], "bench quality"), output),
            "variants" => VariantsBenchCommand.Run(Args.Parse(CommandTree.Bench.Target("variants"), rawArgs[1..], "bench variants"), output),
            "backends" => BackendBenchCommand.Run(Args.Parse(CommandTree.Bench.Target("backends"), rawArgs[1..], "bench backends"), output),
            "warmstart" => VariantsBenchCommand.RunWarmStart(Args.Parse(CommandTree.Bench.Target("warmstart"), rawArgs[1..], "bench warmstart"), output),
            var other => throw new UsageException($"unknown bench target '{other}'; use train, sample, http, overhead, pipeline, promote, eval, quality, variants or warmstart"),
        };
    }

    private static int Train(Args args, TextWriter output)
    {
        var kind = args.Enum<ModelKind>("--model") ?? ModelKind.Dcgan;
        var spec = ModelSpec.DefaultFor(kind, args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32,
            args.Choice("--channels", ModelSpec.SupportedChannels) ?? 1);
        int batch = args.Int("--batch-size", 1, TrainOptions.MaxBatchSize) ?? 64;
        int steps = args.Int("--steps", 1, 1_000_000) ?? 300;
        int warmup = args.Int("--warmup", 0, 10_000) ?? 20;
        CliApp.ConfigureRuntime(args);
        output.WriteLine($"bench train: {spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels} nz={spec.LatentSize} ngf={spec.Ngf} ndf={spec.Ndf} batch={batch} steps={steps} warmup={warmup}");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");

        torch.manual_seed(1);
        using var data = SyntheticShapes.Generate(Math.Max(batch * 8, 512), spec.ImageSize, spec.Channels, seed: 1);
        // The reference's recipe (bench/reference/train_step.py): no mode-seeking term, whatever the family's default.
        // On the device training uses (TorchRuntime.TrainingDevice); each step reads its losses back, so a step's time includes the GPU's work.
        var device = TorchRuntime.TrainingDevice;
        using var model = Trainables.Create(spec, new TrainOptions { BatchSize = batch, ModeSeeking = 0 }, device: device);
        var times = new List<double>(steps);
        long rssAt200 = 0, rssAt2000 = 0;
        var clock = new Stopwatch();
        for (int i = 0; i < warmup + steps; i++)
        {
            clock.Restart();
            using (var scope = torch.NewDisposeScope())
            {
                long start = (long)i * batch % (data.Count - batch + 1);
                var batchImages = data.Batch(torch.arange(start, start + batch)).to(device);
                model.Step(batchImages, null);
            }
            if (i >= warmup) times.Add(clock.Elapsed.TotalMilliseconds);
            int measured = i - warmup + 1;
            if (measured > 0 && measured % Math.Max(1, steps / 10) == 0) // progress for long runs, on stderr
                Console.Error.WriteLine($"  step {measured}/{steps}: median {Percentile(times, 50):0.00} ms, RSS {TorchRuntime.ResidentBytes() / 1048576.0:0} MiB");
            if (measured == 200) rssAt200 = TorchRuntime.ResidentBytes();
            if (measured == 2000) rssAt2000 = TorchRuntime.ResidentBytes();
        }
        double median = Percentile(times, 50);
        double gflopPerStep = 2.0 * model.TrainingMacsPerImage * batch / 1e9;
        output.WriteLine($"step ms: median {median:0.00}  p10 {Percentile(times, 10):0.00}  p90 {Percentile(times, 90):0.00}");
        output.WriteLine($"images/s: {batch / (median / 1000):0}");
        output.WriteLine($"analytic work: {model.TrainingMacsPerImage / 1e6:0.0} M multiply-adds per image per step (forward + ~2x backward), {gflopPerStep:0.00} GFLOP per step");
        output.WriteLine($"achieved GFLOP/s: {gflopPerStep / (median / 1000):0.0}");
        output.WriteLine($"libtorch sgemm GFLOP/s (1024x1024, same threads): {SgemmGflops():0.0}");
        if (rssAt200 > 0) output.WriteLine($"RSS MiB: step 200 {rssAt200 / 1048576.0:0}" + (rssAt2000 > 0 ? $", step 2000 {rssAt2000 / 1048576.0:0} ({100.0 * (rssAt2000 - rssAt200) / rssAt200:+0.0;-0.0}%)" : ""));
        return 0;
    }

    private static int Sample(Args args, TextWriter output)
    {
        int count = args.Int("--count", 1, 1024) ?? 64;
        int iterations = args.Int("--iterations", 1, 1_000_000) ?? 200;
        int warmup = args.Int("--warmup", 0, 10_000) ?? 20;
        CliApp.ConfigureRuntime(args);
        IImageGenerator generator;
        ImageSampler? sampler = null;
        string source;
        if (args.String("--checkpoint") is { } checkpoint)
        {
            sampler = ImageSampler.Load(checkpoint);
            generator = sampler.Generator;
            source = checkpoint;
        }
        else
        {
            var spec = ModelSpec.DefaultFor(args.Enum<ModelKind>("--model") ?? ModelKind.Dcgan, args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32);
            torch.manual_seed(1);
            generator = ModelFamily.For(spec.Kind).CreateGenerator(spec);
            generator.AsModule.eval();
            source = "freshly initialised weights";
        }
        using var owned = (IDisposable?)sampler ?? generator;
        var s = generator.Spec;
        output.WriteLine($"bench sample: {s.Kind} {s.ImageSize}x{s.ImageSize}x{s.Channels} count={count} iterations={iterations} warmup={warmup} ({source})");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        var seeds = Seeds.Range(0, count);
        var forward = new List<double>(iterations);
        var withPng = new List<double>(iterations);
        for (int i = 0; i < warmup + iterations; i++)
        {
            var (forwardMs, totalMs) = TimeBareSample(generator, seeds);
            if (i < warmup) continue;
            forward.Add(forwardMs);
            withPng.Add(totalMs);
        }
        output.WriteLine($"latents + forward ms: p50 {Percentile(forward, 50):0.00}  p90 {Percentile(forward, 90):0.00}  p99 {Percentile(forward, 99):0.00}");
        output.WriteLine($"with PNG grid ms:     p50 {Percentile(withPng, 50):0.00}  p90 {Percentile(withPng, 90):0.00}  p99 {Percentile(withPng, 99):0.00}");
        output.WriteLine($"images/s at p50: forward {count * 1000 / Percentile(forward, 50):0}  with PNG {count * 1000 / Percentile(withPng, 50):0}");
        return 0;
    }

    /// <summary>
    /// One bare sample, the baseline the HTTP path is compared with: latents for the seeds, the forward pass, and
    /// the PNG grid, on the calling thread with no HTTP. Returns (latents + forward ms, with PNG ms).
    /// </summary>
    public static (double ForwardMs, double TotalMs) TimeBareSample(IImageGenerator generator, IReadOnlyList<long> seeds)
    {
        var clock = Stopwatch.StartNew();
        double forwardMs;
        using (var inference = torch.inference_mode())
        using (var scope = torch.NewDisposeScope())
        {
            var z = GeneratorTensors.Latents(seeds, generator.Spec.LatentSize);
            var images = generator.Generate(z);
            forwardMs = clock.Elapsed.TotalMilliseconds;
            TensorImages.EncodeGridPng(images);
        }
        return (forwardMs, clock.Elapsed.TotalMilliseconds);
    }

    private static double SgemmGflops()
    {
        const int n = 1024;
        using var a = torch.randn(n, n);
        using var b = torch.randn(n, n);
        var times = new List<double>();
        var clock = new Stopwatch();
        for (int i = 0; i < 15; i++)
        {
            clock.Restart();
            using var c = torch.mm(a, b);
            if (i >= 3) times.Add(clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / Percentile(times, 50) / 1e9;
    }

    public static double Percentile(List<double> values, double percent)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        double rank = percent / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(rank), high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}
