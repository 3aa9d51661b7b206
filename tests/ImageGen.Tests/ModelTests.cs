using ImageGen.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageGen.Tests;

public class ModelTests
{
    public ModelTests() => TestImages.EnsureRuntime();

    [Theory]
    [InlineData(32, 1)]
    [InlineData(32, 3)]
    [InlineData(64, 1)]
    [InlineData(64, 3)]
    public void Networks_map_between_latents_images_and_logits_at_each_size(int size, int channels)
    {
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan, size, channels) with { Ngf = 8, Ndf = 8, LatentSize = 10 };
        using var g = new DcganGenerator(spec);
        using var d = new DcganDiscriminator(spec);
        using var z = torch.randn(3, 10);
        using var images = g.forward(z);
        Assert.Equal(new long[] { 3, channels, size, size }, images.shape);
        Assert.True(images.abs().max().item<float>() <= 1.0f, "tanh output must stay in [-1, 1]");
        using var logits = d.forward(images);
        Assert.Equal(new long[] { 3 }, logits.shape);

        var vaeSpec = spec with { Kind = ModelKind.Vae };
        using var encoder = new VaeEncoder(vaeSpec);
        using var decoder = new VaeDecoder(vaeSpec);
        var (mu, logvar) = encoder.forward(images);
        Assert.Equal(new long[] { 3, 10 }, mu.shape);
        Assert.Equal(new long[] { 3, 10 }, logvar.shape);
        using var decoded = decoder.Generate(mu);
        Assert.Equal(new long[] { 3, channels, size, size }, decoded.shape);
    }

    [Fact]
    public void Dcgan_weights_follow_the_papers_initialisation()
    {
        torch.manual_seed(0);
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan, 64, 3);
        using var g = new DcganGenerator(spec);
        var convWeights = torch.cat(g.named_modules().Select(m => m.module).OfType<PaddedConvTranspose2d>().Select(c => c.Weight.flatten()).ToArray());
        using var d = new DcganDiscriminator(spec);
        var discriminatorWeights = torch.cat(d.named_modules().Select(m => m.module).OfType<PaddedConv2d>().Select(c => c.Weight.flatten()).ToArray());
        Assert.InRange(discriminatorWeights.std().item<float>(), 0.019, 0.021);
        Assert.InRange(convWeights.mean().item<float>(), -0.002, 0.002);
        Assert.InRange(convWeights.std().item<float>(), 0.019, 0.021);
        var bnWeights = torch.cat(g.named_modules().Select(m => m.module).OfType<BatchNorm2d>().Select(b => b.weight!.flatten()).ToArray());
        Assert.InRange(bnWeights.mean().item<float>(), 0.99, 1.01);
        Assert.InRange(bnWeights.std().item<float>(), 0.015, 0.025);
        var bnBias = torch.cat(g.named_modules().Select(m => m.module).OfType<BatchNorm2d>().Select(b => b.bias!.flatten()).ToArray());
        Assert.Equal(0f, bnBias.abs().max().item<float>());
    }

    [Fact]
    public void Spec_rejects_unsupported_shapes_with_the_allowed_values()
    {
        var e = Assert.Throws<ArgumentException>(() => (ModelSpec.DefaultFor(ModelKind.Dcgan) with { ImageSize = 48 }).Validate());
        Assert.Contains("48", e.Message);
        Assert.Contains("32, 64, 128", e.Message);
        Assert.Throws<ArgumentException>(() => (ModelSpec.DefaultFor(ModelKind.Vae) with { Channels = 4 }).Validate());
    }

    [Fact]
    public void Analytic_work_count_matches_a_hand_count_for_the_32px_generator()
    {
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan); // nz 100, ngf 64, 1 channel, 32x32
        long expected = 100L * 256 * 16          // 1x1 -> 4x4, 256 channels
                      + 4 * 4 * 256L * 128 * 16  // 4x4 -> 8x8
                      + 8 * 8 * 128L * 64 * 16   // 8x8 -> 16x16
                      + 16 * 16 * 64L * 1 * 16;  // 16x16 -> 32x32
        Assert.Equal(expected, Flops.GeneratorMacs(spec));
    }
}
