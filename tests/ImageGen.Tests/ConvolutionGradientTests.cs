using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

/// <summary>
/// The convolutions the models train through, against float64 (which does not go through oneDNN). oneDNN 3.7.1's AVX2
/// and AVX-512 kernels return a wrong input gradient (mostly zeros, NaN where uninitialised memory held one) when a
/// convolution's (or transposed convolution's) output channels are not a multiple of the vector width; PaddedConv2d
/// and PaddedConvTranspose2d pad them. With torch's plain layers the 1-, 3-, 17- and 24-channel cases fail on an AMD
/// EPYC Zen 5 every time, and DCGAN training NaNs at random.
/// </summary>
public class ConvolutionGradientTests
{
    private static double Gap(Tensor a, Tensor exact) => (a.to_type(ScalarType.Float64) - exact).abs().max().item<double>();

    [Theory]
    [InlineData(32, 1, 4)]
    [InlineData(32, 3, 6)]
    [InlineData(32, 8, 8)]
    [InlineData(32, 17, 8)]
    [InlineData(32, 16, 8)]
    [InlineData(8, 16, 8)]
    [InlineData(1, 8, 8)]
    [InlineData(3, 16, 8)]
    public void A_convolutions_output_and_gradients_match_the_float64_reference(int inChannels, int outChannels, int size)
    {
        TestImages.EnsureRuntime();
        using var scope = torch.NewDisposeScope();
        using var random = new torch.Generator(7);
        var conv = new PaddedConv2d(inChannels, outChannels, 4, stride: 1, padding: 0, bias: true);
        var exactConv = new PaddedConv2d(inChannels, outChannels, 4, stride: 1, padding: 0, bias: true).to(ScalarType.Float64);
        using (torch.no_grad())
            foreach (var ((_, p), (_, q)) in conv.named_parameters().Zip(exactConv.named_parameters())) q.copy_(p);
        var x = torch.randn([32, inChannels, size, size], generator: random);
        var gradOut = torch.randn([32, outChannels, size - 3, size - 3], generator: random);

        var input = x.clone().requires_grad_(true);
        var y = conv.forward(input);
        y.backward([gradOut]);
        var exact = x.to_type(ScalarType.Float64).requires_grad_(true);
        var yExact = exactConv.forward(exact);
        yExact.backward([gradOut.to_type(ScalarType.Float64)]);

        Assert.True(input.grad!.isfinite().all().item<bool>(), "the input gradient has NaN or infinite values");
        Assert.True(Gap(y, yExact) < 1e-3, $"the output is off by up to {Gap(y, yExact)}");
        Assert.True(Gap(input.grad!, exact.grad!) < 1e-3, $"the input gradient is off by up to {Gap(input.grad!, exact.grad!)} for {outChannels} output channels");
        Assert.True(Gap(conv.Weight.grad!, exactConv.Weight.grad!) < 1e-2, $"the weight gradient is off by up to {Gap(conv.Weight.grad!, exactConv.Weight.grad!)}");
    }

    [Theory]
    [InlineData(100, 512, 1, 1, 0)]
    [InlineData(8, 32, 1, 1, 0)]
    [InlineData(20, 128, 1, 1, 0)]
    [InlineData(32, 128, 1, 1, 0)]
    [InlineData(16, 64, 4, 1, 0)]
    [InlineData(100, 512, 2, 1, 1)]
    [InlineData(64, 1, 8, 2, 1)]
    [InlineData(64, 3, 8, 2, 1)]
    [InlineData(8, 24, 8, 2, 1)]
    [InlineData(8, 32, 1, 2, 1)]
    [InlineData(16, 8, 8, 2, 1)]
    public void A_transposed_convolutions_output_and_gradients_match_the_float64_reference(int inChannels, int outChannels, int size, int stride, int padding)
    {
        TestImages.EnsureRuntime();
        using var scope = torch.NewDisposeScope();
        using var random = new torch.Generator(7);
        var convT = new PaddedConvTranspose2d(inChannels, outChannels, 4, stride, padding, bias: true);
        var exactConvT = new PaddedConvTranspose2d(inChannels, outChannels, 4, stride, padding, bias: true).to(ScalarType.Float64);
        using (torch.no_grad())
            foreach (var ((_, p), (_, q)) in convT.named_parameters().Zip(exactConvT.named_parameters())) q.copy_(p);
        var x = torch.randn([16, inChannels, size, size], generator: random);
        var input = x.clone().requires_grad_(true);
        var y = convT.forward(input);
        var gradOut = torch.randn(y.shape, generator: random);
        y.backward([gradOut]);
        var exact = x.to_type(ScalarType.Float64).requires_grad_(true);
        var yExact = exactConvT.forward(exact);
        yExact.backward([gradOut.to_type(ScalarType.Float64)]);
        Assert.True(input.grad!.isfinite().all().item<bool>(), "the input gradient has NaN or infinite values");
        Assert.True(Gap(y, yExact) < 1e-3, $"the output is off by up to {Gap(y, yExact)}");
        Assert.True(Gap(input.grad!, exact.grad!) < 1e-3, $"the input gradient is off by up to {Gap(input.grad!, exact.grad!)} for {outChannels} output channels");
        Assert.True(Gap(convT.Weight.grad!, exactConvT.Weight.grad!) < 1e-2, $"the weight gradient is off by up to {Gap(convT.Weight.grad!, exactConvT.Weight.grad!)}");
    }

    [Fact]
    public void No_network_trains_through_torchs_plain_convolutions()
    {
        foreach (var kind in new[] { ModelKind.Dcgan, ModelKind.Vae })
        {
            var spec = ModelSpec.DefaultFor(kind) with { Ngf = 8, Ndf = 8, LatentSize = 8 };
            var family = ModelFamily.For(kind);
            var networks = new List<nn.Module> { family.CreateGenerator(spec).AsModule };
            if (family.CreateEncoder(spec) is { } encoder) networks.Add(encoder.AsModule);
            if (kind == ModelKind.Dcgan) networks.Add(new DcganDiscriminator(spec));
            foreach (var network in networks)
                Assert.DoesNotContain(network.named_modules(), m => m.module is TorchSharp.Modules.Conv2d or TorchSharp.Modules.ConvTranspose2d);
        }
        Assert.DoesNotContain(new FeatureClassifier(1, 32, 10).named_modules(), m => m.module is TorchSharp.Modules.Conv2d);
    }
}
