using ImageGen.Core.Checkpoints;
using ImageGen.Core.Export;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

[Collection(TrainedRunsCollection.Name)]
public class OnnxTests(TrainedRuns runs)
{
    /// <summary>libtorch's randn for [1, nz] from a generator seeded with the seed: what every sample drew before LatentNoise.</summary>
    private static float[] TorchLatents(IReadOnlyList<long> seeds, int nz)
    {
        var all = new List<float>();
        foreach (long seed in seeds)
        {
            using var generator = new torch.Generator((ulong)seed);
            using var z = torch.randn([1, nz], generator: generator);
            all.AddRange(z.data<float>().ToArray());
        }
        return [.. all];
    }

    [Theory]
    [InlineData(100)] // DCGAN's nz: six blocks of 16 and a redrawn last block
    [InlineData(128)] // whole blocks only
    [InlineData(20)] // the VAE's: one block and a redrawn one
    [InlineData(8)] // under 16: double pairs
    [InlineData(5)] // odd, under 16: the last pair's sine unused
    public void Latent_noise_drawn_in_CSharp_matches_libtorchs_randn_for_the_same_seed(int nz)
    {
        long[] seeds = [.. Enumerable.Range(0, 300).Select(i => (long)i), 65_536, int.MaxValue, Seeds.MaxSeed];
        float[] mine = LatentNoise.Draw(seeds, nz), reference = TorchLatents(seeds, nz);
        Assert.Equal(reference.Length, mine.Length);
        double worst = mine.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        // The same draws: any mistake in the generator, the uniforms or the pairing gives differences of order 1. Where
        // libtorch's vectorised logarithm and sine differ from the C library's, values differ in the last bits only.
        Assert.True(worst < 1e-5, $"largest difference {worst:E2} at nz {nz}");
        int exact = mine.Zip(reference).Count(p => p.First == p.Second);
        Console.WriteLine($"nz {nz}: {exact} of {mine.Length} values bit-identical, largest difference {worst:E2}");
    }

    /// <summary>The largest difference in 8-bit levels between two sets of the same images, and how many pixels differ at all.</summary>
    private static (int worst, int differing) Compare(ImagePixels a, ImagePixels b)
    {
        Assert.Equal((a.Count, a.Height, a.Width, a.BytesPerPixel), (b.Count, b.Height, b.Width, b.BytesPerPixel));
        int worst = 0, differing = 0;
        for (int i = 0; i < a.Data.Length; i++)
        {
            int difference = Math.Abs(a.Data[i] - b.Data[i]);
            worst = Math.Max(worst, difference);
            if (difference > 0) differing++;
        }
        return (worst, differing);
    }

    /// <summary>The same seeds through libtorch (as served today: torch's randn, the network in eval mode) and through the exported graph in ONNX Runtime (latents from LatentNoise).</summary>
    private static void AssertBackendsAgree(CheckpointHeader header, IImageGenerator generator, bool averaged, string family)
    {
        var spec = header.Spec;
        var seeds = Seeds.Range(0, 48);
        int[] classes = spec.Classes > 0 ? ClassConditioning.FromSeeds(seeds, spec.Classes, header.ClassSizes) : new int[seeds.Count];
        ImagePixels fromTorch;
        using (torch.inference_mode())
        using (var scope = torch.NewDisposeScope())
        {
            var z = GeneratorTensors.Latents(seeds, spec.LatentSize);
            fromTorch = TensorImages.ToPixels(generator.Generate(GeneratorTensors.Inputs(spec, z, classes)));
        }
        using var onnx = OnnxGenerator.Load(OnnxExport.ToBytes(header, generator, averaged), threads: 2);
        Assert.Equal(spec, onnx.Spec);
        Assert.Equal(header.Classes, onnx.ClassNames);
        Assert.Equal(header.ClassSizes, onnx.ClassSizes);
        var images = onnx.Generate(LatentNoise.Draw(seeds, spec.LatentSize), classes, seeds.Count);
        Assert.True(images.Min() >= -1f && images.Max() <= 1f, $"{family}: ONNX output spans {images.Min():R}..{images.Max():R}, outside [-1, 1]");
        var fromOnnx = ImageGrid.ToPixels(images, spec.Channels, spec.ImageSize, spec.ImageSize, 0, seeds.Count);
        var (worst, differing) = Compare(fromTorch, fromOnnx);
        Console.WriteLine($"{family}: largest difference {worst} level(s), {differing} of {fromTorch.Data.Length} values differ ({onnx.Producer})");
        Assert.True(worst <= 1, $"{family}: images differ by up to {worst} levels in 255 between libtorch and ONNX Runtime");
        // Not everything trivially equal: the images vary (a graph that ignored z would pass the bound above only if libtorch's did too).
        Assert.True(fromOnnx.Data.Distinct().Count() > 16, $"{family}: the ONNX images are nearly flat");
    }

    public static TheoryData<string> TrainedFamilies => ["dcgan", "vae", "conditional-dcgan"];

    [Theory]
    [MemberData(nameof(TrainedFamilies))]
    public void An_exported_generator_in_onnx_runtime_draws_the_images_libtorch_draws_within_one_level(string family)
    {
        string path = family switch { "dcgan" => runs.Gan.CheckpointPath, "vae" => runs.Vae.CheckpointPath, _ => runs.ConditionalGan.CheckpointPath };
        using var file = File.OpenRead(path);
        using var checkpoint = GeneratorCheckpoint.Load(file);
        Assert.Equal(family == "conditional-dcgan", checkpoint.Header.Spec.Classes > 0);
        AssertBackendsAgree(checkpoint.Header, checkpoint.Generator, checkpoint.Averaged, family);
    }

    [Theory]
    [InlineData(ModelKind.Dcgan, 128, 3)]
    [InlineData(ModelKind.Vae, 128, 3)]
    [InlineData(ModelKind.Dcgan, 64, 1)]
    public void Larger_and_rgb_generators_export_too_with_batch_norm_statistics_folded(ModelKind kind, int size, int channels)
    {
        torch.manual_seed(11);
        var spec = ModelSpec.DefaultFor(kind, size, channels) with { Ngf = 8, Ndf = 8 };
        using var generator = ModelFamily.For(kind).CreateGenerator(spec);
        // Running statistics far from BatchNorm's fresh 0 and 1, so folding them wrong would show, and convolution weights
        // as large as trained ones (DCGAN's N(0, 0.02) start would leave the statistics' shift alone and the images flat).
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in generator.AsModule.named_parameters())
                if (parameter.dim() == 4) parameter.mul_(20);
            foreach (var (name, buffer) in generator.AsModule.named_buffers())
            {
                if (name.EndsWith("running_mean")) buffer.uniform_(-0.5, 0.5);
                if (name.EndsWith("running_var")) buffer.uniform_(0.5, 2.0);
            }
        }
        generator.AsModule.eval();
        AssertBackendsAgree(new CheckpointHeader { Spec = spec, Options = new TrainOptions() }, generator, averaged: false, $"{kind} {size}px x{channels}");
    }

    /// <summary>
    /// A class-conditional VAE with a fitted prior per class draws eps through its class's scale before the input layer
    /// (LatentPrior.FoldInto): the exported graph does the same. Means and scales far from 0 and I, and three classes, so
    /// a graph that dropped the scales or picked another class's would differ by far more than a level.
    /// </summary>
    [Fact]
    public void A_conditional_vae_with_a_prior_per_class_exports_its_class_scales()
    {
        torch.manual_seed(13);
        var spec = ModelSpec.DefaultFor(ModelKind.Vae) with { Ngf = 8, Ndf = 8, Classes = 3, ConditionalEncoder = true };
        int nz = spec.LatentSize;
        using var decoder = new VaeDecoder(spec);
        using (torch.no_grad())
        using (torch.NewDisposeScope())
        {
            foreach (var (_, parameter) in decoder.named_parameters())
                if (parameter.dim() == 4) parameter.mul_(4);
            var random = torch.randn(3, nz, nz, dtype: ScalarType.Float64);
            var scales = torch.linalg.cholesky(random.matmul(random.transpose(1, 2)) + torch.eye(nz, dtype: ScalarType.Float64));
            var means = torch.randn(3, nz, dtype: ScalarType.Float64) * 2;
            new LatentPrior(means.data<double>().ToArray(), scales.contiguous().data<double>().ToArray(), nz).FoldInto(decoder);
        }
        decoder.eval();
        Assert.IsType<ClassLatentScales>(decoder.InferenceLayers()[0]);
        AssertBackendsAgree(new CheckpointHeader { Spec = spec, Options = new TrainOptions(), Classes = ["a", "b", "c"] }, decoder, averaged: false,
            "conditional VAE with a scale per class");
    }

    /// <summary>
    /// A VAE's reconstruction without libtorch: encoder.onnx to the latent mean, model.onnx back to an image, against
    /// ImageSampler's libtorch reconstruction of the same pixels. The trained VAE; an untrained 64 px RGB one with
    /// scaled-up weights and randomised BatchNorm statistics (so a wrong fold into the convolutions would show); and the
    /// trained class-conditional VAE, whose encoder takes the class (its shift, its one-hot, its prior's inverse scale per
    /// class), each image reconstructed with one of the two classes.
    /// </summary>
    [Theory]
    [InlineData("trained")]
    [InlineData("rgb64")]
    [InlineData("conditional")]
    public void An_exported_vae_encoder_reconstructs_in_onnx_runtime_as_libtorch_does_within_one_level(string which)
    {
        using var sampler = which switch
        {
            "trained" => ImageSampler.Load(runs.Vae.CheckpointPath),
            "conditional" => ImageSampler.Load(runs.ConditionalVae.CheckpointPath),
            _ => UntrainedVae(64, 3),
        };
        var spec = sampler.Spec;
        var checkpoint = new CheckpointHeader { Spec = spec, Options = new TrainOptions(), Classes = sampler.ClassNames };
        var encoder = OnnxExport.EncoderToBytes(checkpoint, sampler.Encoder!);
        using var onnx = OnnxReconstructor.Load(OnnxGenerator.Load(OnnxExport.ToBytes(checkpoint, sampler.Generator, averaged: false), threads: 2), encoder, threads: 2);
        var random = new Random(5);
        int worst = 0, distinct = 0;
        for (int image = 0; image < 4; image++)
        {
            // Smooth shapes rather than noise: the pixels a reconstruction is asked for.
            var pixels = new byte[spec.Channels * spec.ImageSize * spec.ImageSize];
            int cx = random.Next(spec.ImageSize), cy = random.Next(spec.ImageSize), r = spec.ImageSize / 4 + random.Next(spec.ImageSize / 4);
            for (int c = 0; c < spec.Channels; c++)
                for (int y = 0; y < spec.ImageSize; y++)
                    for (int x = 0; x < spec.ImageSize; x++)
                        pixels[(c * spec.ImageSize + y) * spec.ImageSize + x] = (byte)((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r ? 200 - 40 * c : 20 + 2 * x);
            int? imageClass = spec.Classes > 0 ? image % 2 : null; // the conditional VAE: images 0 and 2 as its class 0, 1 and 3 as class 1
            using var fromTorch = SkiaSharp.SKBitmap.Decode(sampler.ReconstructPng(pixels, imageClass));
            using var fromOnnx = SkiaSharp.SKBitmap.Decode(onnx.ReconstructPng(pixels, imageClass));
            Assert.Equal((spec.ImageSize, spec.ImageSize), (fromOnnx.Width, fromOnnx.Height));
            for (int y = 0; y < spec.ImageSize; y++)
                for (int x = 0; x < spec.ImageSize; x++)
                {
                    SkiaSharp.SKColor a = fromTorch.GetPixel(x, y), b = fromOnnx.GetPixel(x, y);
                    worst = Math.Max(worst, Math.Max(Math.Abs(a.Red - b.Red), Math.Max(Math.Abs(a.Green - b.Green), Math.Abs(a.Blue - b.Blue))));
                }
            distinct += fromOnnx.Pixels.Select(p => p.Red).Distinct().Count();
        }
        Console.WriteLine($"VAE {which}: reconstructions differ by up to {worst} level(s)");
        Assert.True(worst <= 1, $"VAE {which}: reconstructions differ by up to {worst} levels in 255 between libtorch and ONNX Runtime");
        Assert.True(distinct > 4 * 16, $"VAE {which}: the reconstructions are nearly flat");
    }

    private static ImageSampler UntrainedVae(int size, int channels)
    {
        torch.manual_seed(12);
        var spec = ModelSpec.DefaultFor(ModelKind.Vae, size, channels) with { Ngf = 8, Ndf = 8 };
        var family = ModelFamily.For(ModelKind.Vae);
        var generator = family.CreateGenerator(spec);
        var encoder = family.CreateEncoder(spec)!;
        using (torch.no_grad())
            foreach (var module in new[] { generator.AsModule, encoder.AsModule })
            {
                foreach (var (_, parameter) in module.named_parameters())
                    if (parameter.dim() == 4) parameter.mul_(4);
                foreach (var (name, buffer) in module.named_buffers())
                {
                    if (name.EndsWith("running_mean")) buffer.uniform_(-0.5, 0.5);
                    if (name.EndsWith("running_var")) buffer.uniform_(0.5, 2.0);
                }
            }
        return ImageSampler.FromNetworks(new CheckpointHeader { Spec = spec, Options = new TrainOptions() }, generator, encoder);
    }
}
