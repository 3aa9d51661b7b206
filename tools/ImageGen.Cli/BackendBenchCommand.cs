using System.Diagnostics;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Export;
using ImageGen.Core.Imaging;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen bench backends: one checkpoint served both ways in one process, through the same IServedGenerator call the
/// batch worker makes (latents from LatentNoise in, images as floats out): libtorch (the checkpoint's network) and ONNX
/// Runtime (its export, made in memory). Load time of each, then per batch size rounds that alternate the two sides in
/// blocks, so the machine's noise falls on both; medians, p99 and the ratio; and the largest pixel difference.
/// </summary>
public static class BackendBenchCommand
{
    public static int Run(Args args, TextWriter output)
    {
        CliApp.ConfigureRuntime(args, serving: true);
        string path = Checkpoint.Resolve(args.Required("--checkpoint"));
        int[] counts = (args.String("--counts") ?? "1,16,64").Split(',').Select(c => int.TryParse(c, out int n) && n is >= 1 and <= 1024 ? n
            : throw new UsageException($"--counts '{c}' is not an integer in 1..1024")).ToArray();
        int rounds = args.Int("--rounds", 1, 1000) ?? 10, block = args.Int("--block", 1, 10_000) ?? 20;
        int threads = torch.get_num_threads();

        var clock = Stopwatch.StartNew();
        using var libtorch = ImageSampler.Load(path);
        double libtorchLoad = clock.Elapsed.TotalMilliseconds;
        byte[] onnxBytes;
        using (var file = File.OpenRead(path))
        using (var checkpoint = GeneratorCheckpoint.Load(file))
            onnxBytes = OnnxExport.ToBytes(checkpoint);
        clock.Restart();
        using var onnx = OnnxGenerator.Load(onnxBytes, threads);
        double onnxLoad = clock.Elapsed.TotalMilliseconds;
        var spec = libtorch.Spec;
        output.WriteLine($"bench backends: {spec.Kind} {spec.ImageSize}x{spec.ImageSize}x{spec.Channels} ({path}), counts {string.Join(',', counts)}, {rounds} rounds of {block} passes a side, threads {threads}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        output.WriteLine($"machine: {TorchRuntime.Describe()}; ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version} ({onnx.Producer})");
        output.WriteLine($"load from a local file: libtorch {libtorchLoad:0} ms (checkpoint {new FileInfo(path).Length / 1e6:0.0} MB), ONNX Runtime session {onnxLoad:0} ms (model.onnx {onnxBytes.Length / 1e6:0.0} MB)");

        foreach (int count in counts)
        {
            var seeds = Seeds.Range(0, count);
            var inputs = new GeneratorInputs(LatentNoise.Draw(seeds, spec.LatentSize), libtorch.ClassesFor(seeds), count);
            var sides = new (string Name, IServedGenerator Generator, List<double> Ms)[] { ("libtorch", libtorch, []), ("onnxruntime", onnx, []) };
            foreach (var side in sides) for (int i = 0; i < 3; i++) side.Generator.Generate(inputs.Latents, inputs.Classes, count); // warm-up
            for (int round = 0; round < rounds; round++)
                foreach (var side in round % 2 == 0 ? sides : sides.Reverse())
                    for (int i = 0; i < block; i++)
                    {
                        long started = Stopwatch.GetTimestamp();
                        side.Generator.Generate(inputs.Latents, inputs.Classes, count);
                        side.Ms.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
            var a = ImageGrid.ToPixels(libtorch.Generate(inputs.Latents, inputs.Classes, count), spec.Channels, spec.ImageSize, spec.ImageSize, 0, count);
            var b = ImageGrid.ToPixels(onnx.Generate(inputs.Latents, inputs.Classes, count), spec.Channels, spec.ImageSize, spec.ImageSize, 0, count);
            int worst = a.Data.Zip(b.Data, (x, y) => Math.Abs(x - y)).Max();
            double p50Torch = BenchCommand.Percentile(sides[0].Ms, 50), p50Onnx = BenchCommand.Percentile(sides[1].Ms, 50);
            output.WriteLine($"count {count,4}: libtorch p50 {p50Torch:0.00} ms p99 {BenchCommand.Percentile(sides[0].Ms, 99):0.00} ms | " +
                $"onnxruntime p50 {p50Onnx:0.00} ms p99 {BenchCommand.Percentile(sides[1].Ms, 99):0.00} ms | onnx/libtorch p50 {p50Onnx / p50Torch:0.00} | " +
                $"images/s {count * 1000 / p50Torch:0} vs {count * 1000 / p50Onnx:0} | largest pixel difference {worst} level(s)");
        }
        return 0;
    }
}
