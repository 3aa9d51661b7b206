using ImageGen.Core.Checkpoints;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

[Collection(TrainedRunsCollection.Name)]
public class SamplingTests(TrainedRuns runs)
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.Equals(b);

    [Fact]
    public void Same_checkpoint_seed_and_count_give_the_same_images_bit_for_bit()
    {
        using var first = ImageSampler.Load(runs.Gan.CheckpointPath);
        using var second = ImageSampler.Load(runs.Gan.CheckpointPath);
        using var a = first.Generate(Seeds.Range(7, 16));
        using var b = second.Generate(Seeds.Range(7, 16));
        Assert.True(Same(a, b));
        Assert.Equal(TensorImages.EncodeGridPng(a), TensorImages.EncodeGridPng(b));
        using var other = first.Generate(Seeds.Range(8, 16));
        Assert.False(Same(a, other));
    }

    [Fact]
    public void An_image_depends_on_its_seed_alone_not_on_the_rest_of_the_batch()
    {
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        using var batch = sampler.Generate(Seeds.Parse("3,10-12", 16));
        using var alone = sampler.Generate([11]);
        Assert.True(torch.allclose(batch[2], alone[0], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Checkpoint_round_trip_is_bit_exact_and_needs_no_shape_up_front()
    {
        using var folder = new TempFolder();
        var (header, sections) = Checkpoint.Read(runs.Gan.CheckpointPath);
        using var original = ImageSampler.Load(runs.Gan.CheckpointPath);
        // Save the loaded generator again and load the copy: every parameter and every output is identical.
        string copy = folder.File("copy.ckpt");
        Checkpoint.Write(copy, header, [(CheckpointSections.Generator, Checkpoint.ModuleSection(original.Generator.AsModule))]);
        var (_, copiedSections) = Checkpoint.Read(copy);
        // The DCGAN recipe keeps a moving average of the generator, and sampling loads that.
        Assert.True(original.Averaged);
        Assert.Equal(sections[CheckpointSections.GeneratorAverage], copiedSections[CheckpointSections.Generator]);
        Assert.NotEqual(sections[CheckpointSections.Generator], sections[CheckpointSections.GeneratorAverage]);
        using var copySampler = ImageSampler.Load(copy);
        var loaded = copySampler.Generator;
        Assert.Equal(runs.GanSpec, copySampler.Spec);
        foreach (var ((name, p), (_, q)) in original.Generator.AsModule.named_parameters().Zip(loaded.AsModule.named_parameters()))
            Assert.True(p.Equals(q), $"parameter {name} changed in the round trip");
        using var z = GeneratorTensors.Latents(Seeds.Range(0, 8), runs.GanSpec.LatentSize);
        using var x = original.GenerateFrom(z);
        using var inference = torch.inference_mode();
        using var y = loaded.Generate(z);
        Assert.True(Same(x, y));
    }

    [Fact]
    public void Slerp_starts_and_ends_at_the_seeds_latents_and_keeps_their_norm()
    {
        using var ends = GeneratorTensors.Latents([1, 2], 32);
        float[] drawn = LatentNoise.Draw([1, 2], 32);
        using var path = torch.tensor(Seeds.Slerp(drawn.AsSpan(0, 32), drawn.AsSpan(32), 9), [9, 32]);
        Assert.Equal(new long[] { 9, 32 }, path.shape);
        Assert.True(torch.allclose(path[0], ends[0], atol: 1e-5));
        Assert.True(torch.allclose(path[8], ends[1], atol: 1e-5));
        // Spherical, not linear: the midpoint of two random normals keeps about their norm (the linear one shrinks by ~1/sqrt 2).
        double mid = path[4].norm().item<float>(), endNorm = (ends[0].norm().item<float>() + ends[1].norm().item<float>()) / 2;
        Assert.InRange(mid / endNorm, 0.9, 1.1);
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        using var frames = sampler.Interpolate(1, 2, 5);
        using var endpoints = sampler.Generate([1, 2]);
        Assert.True(torch.allclose(frames[0], endpoints[0], atol: 1e-4));
        Assert.True(torch.allclose(frames[4], endpoints[1], atol: 1e-4));
    }

    [Fact]
    public void Truncation_scales_the_latent_and_changes_the_images()
    {
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        using var full = sampler.Generate([5]);
        using var truncated = sampler.Generate([5], truncation: 0.5);
        using var z = GeneratorTensors.Latents([5], runs.GanSpec.LatentSize);
        using var half = z * 0.5;
        using var manual = sampler.GenerateFrom(half);
        Assert.False(Same(full, truncated));
        Assert.True(Same(truncated, manual));
    }

    [Theory]
    [InlineData("1,5,7", new long[] { 1, 5, 7 })]
    [InlineData("10-13", new long[] { 10, 11, 12, 13 })]
    [InlineData("0,3-4", new long[] { 0, 3, 4 })]
    public void Seed_lists_parse_as_generate_py_takes_them(string text, long[] expected) => Assert.Equal(expected, Seeds.Parse(text, 100));

    [Theory]
    [InlineData("5-1", "backwards")]
    [InlineData("x", "not an integer")]
    [InlineData("-3", "not an integer")]
    [InlineData("0-100000", "more than 100")]
    public void Bad_seed_lists_are_refused_with_a_reason(string text, string reason)
    {
        var e = Assert.Throws<FormatException>(() => Seeds.Parse(text, 100));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Grid_png_decodes_to_the_expected_layout()
    {
        using var images = torch.full([5, 1, 32, 32], 1.0f);
        var png = TensorImages.EncodeGridPng(images, nrow: 3, padding: 2);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal(3 * 34 + 2, bitmap.Width);
        Assert.Equal(2 * 34 + 2, bitmap.Height);
        Assert.Equal(255, bitmap.GetPixel(2, 2).Red);   // inside the first image: white
        Assert.Equal(0, bitmap.GetPixel(0, 0).Red);     // padding: black
        Assert.Equal(0, bitmap.GetPixel(80, 50).Red);   // the empty sixth cell
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(32, 32, 1)]
    [InlineData(274, 138, 1)]
    [InlineData(7, 3, 4)]
    [InlineData(64, 64, 4)]
    public void Png_encoder_output_decodes_to_the_same_pixels(int width, int height, int bytesPerPixel)
    {
        var random = new Random(width * 1000 + height);
        var pixels = new byte[width * height * bytesPerPixel];
        random.NextBytes(pixels);
        if (bytesPerPixel == 4) for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255; // opaque, as served images are
        var png = PngEncoder.Encode(pixels, width, height, bytesPerPixel);

        Assert.Equal([137, 80, 78, 71, 13, 10, 26, 10], png[..8]);
        using var decoded = SKBitmap.Decode(png); // libpng checks every chunk's CRC
        Assert.NotNull(decoded);
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var color = decoded.GetPixel(x, y);
                int at = (y * width + x) * bytesPerPixel;
                var expected = bytesPerPixel == 1 ? (pixels[at], pixels[at], pixels[at], (byte)255) : (pixels[at], pixels[at + 1], pixels[at + 2], pixels[at + 3]);
                Assert.Equal(expected, (color.Red, color.Green, color.Blue, color.Alpha));
            }
    }

    [Fact]
    public void Png_encoder_refuses_pixels_that_do_not_match_the_size()
    {
        Assert.Contains("3x4x1 pixels need 12 bytes, got 11", Assert.Throws<ArgumentException>(() => PngEncoder.Encode(new byte[11], 3, 4, 1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => PngEncoder.Encode(new byte[6], 2, 1, 3)); // RGB without alpha is not a layout we hold
        Assert.Throws<ArgumentOutOfRangeException>(() => PngEncoder.Encode([], 0, 5, 1));
    }

    [Fact]
    public void Vae_reconstructs_given_images_and_samples_from_the_prior()
    {
        using var sampler = ImageSampler.Load(runs.Vae.CheckpointPath);
        Assert.True(sampler.CanReconstruct);
        using var inputs = runs.HeldOut.Batch(torch.arange(16));
        using var reconstructed = sampler.Reconstruct(inputs);
        Assert.Equal(inputs.shape, reconstructed.shape);
        double error = (reconstructed - inputs).pow(2).mean().item<float>();
        using var shuffled = inputs.roll(1, 0);
        double mismatched = (reconstructed - shuffled).pow(2).mean().item<float>();
        Assert.True(error < 0.5 * mismatched, $"a reconstruction should match its own input ({error:0.000}) far better than another ({mismatched:0.000})");
        using var prior = sampler.Generate(Seeds.Range(0, 4));
        Assert.Equal(new long[] { 4, 1, 32, 32 }, prior.shape);
        using var gan = ImageSampler.Load(runs.Gan.CheckpointPath);
        Assert.Throws<InvalidOperationException>(() => gan.Reconstruct(inputs));
    }
}
