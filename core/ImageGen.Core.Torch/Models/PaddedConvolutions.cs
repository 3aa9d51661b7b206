using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Models;

/// <summary>
/// A square 2-D convolution with Conv2d's parameters (weight [out, in, k, k], optional bias [out], same names, same
/// initialisation, so checkpoints are unchanged) that runs with its output channels padded by zero filters to a
/// multiple of 16 and cut back after. The result and every gradient are the plain convolution's. Why: oneDNN 3.7.1
/// (inside libtorch 2.10) computes the input gradient of a convolution, and of a transposed convolution, wrongly on
/// its AVX2 and AVX-512 kernels when the layer's output channels are not a multiple of the vector width (8 or 16):
/// mostly zeros, plus whatever uninitialised memory held, so training NaNs at random, and is silently wrong when it
/// does not. A DCGAN discriminator's last layer has one output channel, a generator's last layer one or three. Found
/// on an AMD EPYC (Zen 5); PyTorch 1.13's oneDNN 2.6 on the same CPU is exact. ConvolutionGradientTests pins both.
/// </summary>
public sealed class PaddedConv2d : Module<Tensor, Tensor>
{
    public const int ChannelMultiple = 16;
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly long outChannels, paddedChannels, stride, padding;

    public PaddedConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true) : base(nameof(Conv2d))
    {
        this.outChannels = outChannels;
        paddedChannels = RoundUp(outChannels);
        this.stride = stride;
        this.padding = padding;
        // Conv2d's own initialisation: Kaiming-uniform weights (a = sqrt 5), bias uniform in +-1/sqrt(fan_in).
        weight = Parameter(torch.empty(outChannels, inChannels, kernel, kernel));
        init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(inChannels * kernel * kernel);
            this.bias = Parameter(torch.empty(outChannels));
            init.uniform_(this.bias, -bound, bound);
        }
        RegisterComponents();
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public long InChannels => weight.shape[1];
    public long OutChannels => outChannels;
    public long Kernel => weight.shape[2];
    public long Stride => stride;
    public long Padding => padding;

    /// <summary>The channel count padded up to the next multiple of ChannelMultiple.</summary>
    public static long RoundUp(long channels) => (channels + ChannelMultiple - 1) / ChannelMultiple * ChannelMultiple;

    public override Tensor forward(Tensor input)
    {
        if (paddedChannels == outChannels) return F.conv2d(input, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = torch.NewDisposeScope();
        long extra = paddedChannels - outChannels;
        var paddedWeight = F.pad(weight, [0, 0, 0, 0, 0, 0, 0, extra]);
        var paddedBias = bias is null ? null : F.pad(bias, [0, extra]);
        return F.conv2d(input, paddedWeight, paddedBias, strides: [stride, stride], padding: [padding, padding])
            .narrow(1, 0, outChannels).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A square 2-D transposed convolution with ConvTranspose2d's parameters (weight [in, out, k, k], optional bias [out],
/// same names and initialisation), run with both its channel counts padded by zeros to multiples of 16 and its output
/// cut back after. The result and every gradient are the plain transposed convolution's. Besides the output-channel
/// fault PaddedConv2d describes, oneDNN 3.7.1's stride-1 transposed convolution (a DCGAN generator's first layer,
/// z [n, nz, 1, 1] to 4x4) computes a wrong forward pass when its input channels are not a multiple of 16: nz = 100
/// is off by up to 0.05 on an AMD EPYC (Zen 5). ConvolutionGradientTests pins both.
/// </summary>
public sealed class PaddedConvTranspose2d : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly long inChannels, outChannels, paddedIn, paddedOut, kernel, stride, padding;

    public PaddedConvTranspose2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true)
        : base(nameof(ConvTranspose2d))
    {
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        paddedIn = PaddedConv2d.RoundUp(inChannels);
        paddedOut = PaddedConv2d.RoundUp(outChannels);
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        // ConvTranspose2d's own initialisation: its fan-in is taken over the weight's second dimension, as in PyTorch.
        weight = Parameter(torch.empty(inChannels, outChannels, kernel, kernel));
        init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias)
        {
            double bound = 1 / Math.Sqrt(outChannels * kernel * kernel);
            this.bias = Parameter(torch.empty(outChannels));
            init.uniform_(this.bias, -bound, bound);
        }
        RegisterComponents();
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public long InChannels => inChannels;
    public long OutChannels => outChannels;
    public long Kernel => kernel;
    public long Stride => stride;
    public long Padding => padding;

    public override Tensor forward(Tensor input)
    {
        if (paddedIn == inChannels && paddedOut == outChannels)
            return F.conv_transpose2d(input, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = torch.NewDisposeScope();
        var paddedWeight = F.pad(weight, [0, 0, 0, 0, 0, paddedOut - outChannels, 0, paddedIn - inChannels]);
        var paddedBias = bias is null ? null : F.pad(bias, [0, paddedOut - outChannels]);
        var paddedInput = paddedIn == inChannels ? input : F.pad(input, [0, 0, 0, 0, 0, paddedIn - inChannels]);
        return F.conv_transpose2d(paddedInput, paddedWeight, paddedBias, strides: [stride, stride], padding: [padding, padding])
            .narrow(1, 0, outChannels).MoveToOuterDisposeScope();
    }
}
