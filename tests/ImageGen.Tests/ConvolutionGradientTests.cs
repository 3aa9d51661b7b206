using ImageGen.Core.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

/// <summary>
/// libtorch's oneDNN convolution kernels as this process configures them. oneDNN 3.7.1's AVX2 and AVX-512 JIT kernels
/// return a wrong input gradient (mostly zeros, NaN where uninitialised memory held one) when the output channel count
/// is not a multiple of the vector width; TorchRuntime caps oneDNN's instruction set so it takes its exact GEMM path.
/// Without that cap this test fails on an AMD EPYC Zen 5 every time, and DCGAN training NaNs at random.
/// </summary>
public class ConvolutionGradientTests
{
    [Theory]
    [InlineData(1, 4)]
    [InlineData(3, 6)]
    [InlineData(17, 8)]
    [InlineData(16, 8)]
    public void A_convolutions_input_gradient_matches_the_float64_reference(int outChannels, int size)
    {
        TestImages.EnsureRuntime();
        Assert.Equal(TorchRuntime.OneDnnMaxIsa, TorchRuntime.OneDnnIsa);
        using var scope = torch.NewDisposeScope();
        using var random = new torch.Generator(7);
        var x = torch.randn([32, 32, size, size], generator: random);
        var w = torch.randn([outChannels, 32, 4, 4], generator: random).mul_(0.05);
        var gradOut = torch.randn([32, outChannels, size - 3, size - 3], generator: random);

        var input = x.clone().requires_grad_(true);
        nn.functional.conv2d(input, w).backward([gradOut]);
        // float64 convolutions do not go through oneDNN: ATen's own kernels give the reference.
        var exact = x.to_type(ScalarType.Float64).requires_grad_(true);
        nn.functional.conv2d(exact, w.to_type(ScalarType.Float64)).backward([gradOut.to_type(ScalarType.Float64)]);

        Assert.True(input.grad!.isfinite().all().item<bool>(), "the input gradient has NaN or infinite values");
        double worst = (input.grad!.to_type(ScalarType.Float64) - exact.grad!).abs().max().item<double>();
        Assert.True(worst < 1e-3, $"the input gradient is off by up to {worst} for {outChannels} output channels");
    }
}
