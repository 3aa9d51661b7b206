using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Sampling;
using TorchSharp;

namespace ImageGen.Cli;

public static class SampleCommand
{
    public const int MaxImages = 1024;
    /// <summary>--out-dir streams: metric runs need 10,000 to 50,000 samples, drawn a batch at a time.</summary>
    public const int MaxFiles = 100_000;
    private const int FileBatch = 256;

    public static int Run(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Sample, rawArgs);
        string checkpoint = args.Required("--checkpoint");
        string outPath = args.Required("--out");
        if (args.Has("--grid") && args.Has("--out-dir")) throw new UsageException("--grid and --out-dir exclude each other; pick one");
        if (args.Has("--count") && args.Has("--seeds")) throw new UsageException("--count and --seeds exclude each other; --seeds already says how many");
        bool separateFiles = args.Has("--out-dir");
        double truncation = args.Double("--truncation", 0.01, 2.0) ?? 1.0;
        int nrow = args.Int("--nrow", 1, 256) ?? 8;
        int padding = args.Int("--padding", 0, 64) ?? 2;
        CliApp.ConfigureRuntime(args);

        using var sampler = ImageSampler.Load(checkpoint);
        output.WriteLine($"checkpoint: {sampler.Spec.Kind} {sampler.Spec.ImageSize}x{sampler.Spec.ImageSize}x{sampler.Spec.Channels}, step {sampler.Header.Step}" +
                         (sampler.ClassNames.Count > 0 ? $", classes {DescribeClasses(sampler)}" : ""));
        int? classIndex = ClassIndex(sampler, args.String("--class"));

        if (args.String("--reconstruct") is { } inputs)
        {
            using var data = DatasetLoader.Load(inputs, sampler.Spec.ImageSize, sampler.Spec.Channels, limit: MaxImages);
            using var images = data.Batch(torch.arange(data.Count));
            using var reconstructed = sampler.Reconstruct(images, ReconstructClasses(sampler, data, classIndex));
            using var both = torch.cat([images, reconstructed], 0);
            Save(both, outPath, nrow: Math.Min(data.Count, nrow), padding);
            output.WriteLine($"wrote {outPath}: {data.Count} inputs over their reconstructions");
            return 0;
        }

        if (args.String("--interpolate") is { } interpolate)
        {
            var parts = interpolate.Split(',');
            if (parts.Length != 3 || !long.TryParse(parts[0], out long a) || !long.TryParse(parts[1], out long b) || !int.TryParse(parts[2], out int steps)
                || a < 0 || b < 0 || a > Seeds.MaxSeed || b > Seeds.MaxSeed || steps is < 2 or > MaxImages)
                throw new UsageException($"--interpolate '{interpolate}' must be A,B,STEPS with seeds in 0..{Seeds.MaxSeed} and STEPS in 2..{MaxImages}");
            using var path = sampler.Interpolate(a, b, steps, truncation, classIndex);
            if (separateFiles) WriteFiles(path, Enumerable.Range(0, steps).Select(i => $"interp_{i:D3}.png").ToList(), outPath);
            else Save(path, outPath, nrow: Math.Min(steps, nrow == 8 ? steps : nrow), padding);
            output.WriteLine($"wrote {outPath}: {steps} steps from seed {a} to seed {b}");
            return 0;
        }

        int max = separateFiles ? MaxFiles : MaxImages;
        IReadOnlyList<long> seeds = args.String("--seeds") is { } list
            ? Seeds.Parse(list, max)
            : Seeds.Range(args.Long("--seed", 0, Seeds.MaxSeed) ?? 0, args.Int("--count", 1, max) ?? 64);
        if (separateFiles)
        {
            // A batch at a time: memory stays at one batch whatever the count (each image's z depends on its seed alone).
            for (int start = 0; start < seeds.Count; start += FileBatch)
            {
                var batch = seeds.Skip(start).Take(FileBatch).ToList();
                using var images = sampler.Generate(batch, truncation, Classes(classIndex, batch.Count));
                WriteFiles(images, batch.Select(s => $"seed{s:D4}.png").ToList(), outPath);
                if (seeds.Count > FileBatch) Console.Error.WriteLine($"  {start + batch.Count}/{seeds.Count} images written");
            }
            output.WriteLine($"wrote {seeds.Count} images to {outPath}/ (seed{seeds[0]:D4}.png ...)");
        }
        else
        {
            using (var images = sampler.Generate(seeds, truncation, Classes(classIndex, seeds.Count))) Save(images, outPath, nrow, padding);
            output.WriteLine($"wrote {outPath}: grid of {seeds.Count} images, seeds {seeds[0]}..{seeds[^1]}");
        }
        return 0;
    }

    public static void WriteGrid(string checkpoint, IReadOnlyList<long> seeds, double truncation, string outPath, int nrow, int padding)
    {
        using var sampler = ImageSampler.Load(checkpoint);
        WriteGrid(sampler, seeds, truncation, outPath, nrow, padding);
    }

    private static void WriteGrid(ImageSampler sampler, IReadOnlyList<long> seeds, double truncation, string outPath, int nrow, int padding)
    {
        using var images = sampler.Generate(seeds, truncation);
        Save(images, outPath, nrow, padding);
    }

    /// <summary>The class names, each with its share of the training images (how often a seed draws it), where recorded.</summary>
    private static string DescribeClasses(ImageSampler sampler) => sampler.ClassSizes.Count == 0
        ? string.Join(", ", sampler.ClassNames) + " (drawn uniformly)"
        : string.Join(", ", sampler.ClassNames.Select((name, c) => $"{name} {sampler.ClassSizes[c] / (double)sampler.ClassSizes.Sum():P0}"));

    /// <summary>--class NAME as the model's class index; an error naming the model's classes when it has no such class.</summary>
    private static int? ClassIndex(ImageSampler sampler, string? name)
    {
        if (name is null) return null;
        if (sampler.ClassNames.Count == 0) throw new UsageException($"--class '{name}': this checkpoint is not class-conditional");
        int index = sampler.ClassNames.ToList().IndexOf(name);
        return index >= 0 ? index : throw new UsageException($"--class '{name}' is not one of the checkpoint's classes: {string.Join(", ", sampler.ClassNames)}");
    }

    /// <summary>
    /// Each input's class, for a class-conditional VAE: --class for all of them, else the folder each image came from
    /// where the folders are named after the checkpoint's classes. Null for an unconditional VAE.
    /// </summary>
    private static int[]? ReconstructClasses(ImageSampler sampler, ImageTensorDataset data, int? classIndex)
    {
        if (sampler.ClassNames.Count == 0) return null;
        if (classIndex is { } c) return Classes(c, data.Count);
        if (data.Labels is null)
            throw new UsageException("a class-conditional VAE reconstructs each image with its class: give --class NAME, or a folder with a subfolder per class");
        var folderClasses = data.ClassNames.Select(name => sampler.ClassNames.ToList().IndexOf(name)).ToArray();
        if (folderClasses.Contains(-1))
            throw new UsageException($"--reconstruct: folder '{data.ClassNames[Array.IndexOf(folderClasses, -1)]}' is not one of the checkpoint's classes: {string.Join(", ", sampler.ClassNames)}");
        return [.. data.Labels.data<long>().ToArray().Select(label => folderClasses[label])];
    }

    private static int[]? Classes(int? classIndex, int count) => classIndex is { } c ? Enumerable.Repeat(c, count).ToArray() : null;

    private static void Save(torch.Tensor images, string outPath, int nrow, int padding) => TensorImages.SaveGridPng(images, outPath, nrow, padding);

    private static void WriteFiles(torch.Tensor images, IReadOnlyList<string> names, string folder)
    {
        Directory.CreateDirectory(folder);
        for (int i = 0; i < names.Count; i++)
        {
            using var image = images[i];
            File.WriteAllBytes(Path.Combine(folder, names[i]), TensorImages.EncodePng(image));
        }
    }
}
