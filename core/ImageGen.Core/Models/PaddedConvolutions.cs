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
        paddedChannels = (outChannels + ChannelMultiple - 1) / ChannelMultiple * ChannelMultiple;
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
/// same names and initialisation), run with its output channels padded to a multiple of 16 and cut back after, for
/// the reason PaddedConv2d gives. The result and every gradient are the plain transposed convolution's.
/// </summary>
public sealed class PaddedConvTranspose2d : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly long outChannels, paddedChannels, stride, padding;

    public PaddedConvTranspose2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true)
        : base(nameof(ConvTranspose2d))
    {
        this.outChannels = outChannels;
        paddedChannels = (outChannels + PaddedConv2d.ChannelMultiple - 1) / PaddedConv2d.ChannelMultiple * PaddedConv2d.ChannelMultiple;
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

    public override Tensor forward(Tensor input)
    {
        if (paddedChannels == outChannels) return F.conv_transpose2d(input, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = torch.NewDisposeScope();
        long extra = paddedChannels - outChannels;
        var paddedWeight = F.pad(weight, [0, 0, 0, 0, 0, extra]);
        var paddedBias = bias is null ? null : F.pad(bias, [0, extra]);
        return F.conv_transpose2d(input, paddedWeight, paddedBias, strides: [stride, stride], padding: [padding, padding])
            .narrow(1, 0, outChannels).MoveToOuterDisposeScope();
    }
}
