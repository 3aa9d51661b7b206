using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ImageGen.Core.Models;

/// <summary>Convolutional VAE encoder: stride-2 convolutions down to 4x4, then linear heads for mu and log-variance.</summary>
public sealed class VaeEncoder : Module<Tensor, (Tensor mu, Tensor logvar)>, IImageEncoder
{
    private readonly Sequential features;
    private readonly Linear mu;
    private readonly Linear logvar;

    public VaeEncoder(ModelSpec spec) : base(nameof(VaeEncoder))
    {
        int stages = spec.Stages;
        long width = spec.Ndf;
        features = Sequential();
        features.append("conv0", new PaddedConv2d(spec.Channels, width, 4, stride: 2, padding: 1));
        features.append("lrelu0", LeakyReLU(LeakySlope));
        for (int i = 1; i < stages; i++)
        {
            features.append($"conv{i}", new PaddedConv2d(width, width * 2, 4, stride: 2, padding: 1, bias: false));
            features.append($"bn{i}", BatchNorm2d(width * 2));
            features.append($"lrelu{i}", LeakyReLU(LeakySlope));
            width *= 2;
        }
        long flat = width * 4 * 4;
        mu = Linear(flat, spec.LatentSize);
        logvar = Linear(flat, spec.LatentSize);
        RegisterComponents();
    }

    public override (Tensor mu, Tensor logvar) forward(Tensor images)
    {
        using var h = features.forward(images).flatten(1);
        return (mu.forward(h), logvar.forward(h));
    }

    public Tensor EncodeMean(Tensor images)
    {
        using var h = features.forward(images).flatten(1);
        return mu.forward(h);
    }

    private const double LeakySlope = 0.2;

    /// <summary>EncodeMean's pass: the convolution stack, flatten, the mean's head.</summary>
    public IReadOnlyList<InferenceLayer> InferenceLayers() =>
        [.. Models.InferenceLayers.Of(features.children(), (float)LeakySlope), new FlattenLayer(), Models.InferenceLayers.Of(mu)];

    public nn.Module AsModule => this;
}

/// <summary>
/// Convolutional VAE decoder: z -> 4x4 by a linear layer, then the DCGAN generator's upsampling stack; outputs logits.
/// A class-conditional decoder takes z followed by the one-hot class (p(x | z, y)); the encoder stays q(z | x).
/// </summary>
public sealed class VaeDecoder : Module<Tensor, Tensor>, IImageGenerator
{
    private readonly Linear project;
    private readonly Sequential upsample;
    private readonly long baseWidth;
    public ModelSpec Spec { get; }

    public VaeDecoder(ModelSpec spec) : base(nameof(VaeDecoder))
    {
        Spec = spec;
        int stages = spec.Stages;
        baseWidth = spec.Ngf * (1L << (stages - 1));
        project = Linear(spec.InputSize, baseWidth * 4 * 4);
        upsample = Sequential();
        upsample.append("relu0", ReLU());
        long width = baseWidth;
        for (int i = 1; i < stages; i++)
        {
            upsample.append($"convt{i}", new PaddedConvTranspose2d(width, width / 2, 4, stride: 2, padding: 1, bias: false));
            upsample.append($"bn{i}", BatchNorm2d(width / 2));
            upsample.append($"relu{i}", ReLU());
            width /= 2;
        }
        upsample.append($"convt{stages}", new PaddedConvTranspose2d(width, spec.Channels, 4, stride: 2, padding: 1));
        RegisterComponents();
    }

    /// <summary>Logits of pixel intensities in [0, 1] (sigmoid gives the image).</summary>
    public override Tensor forward(Tensor z)
    {
        using var projected = project.forward(z.dim() == 4 ? z.flatten(1) : z);
        using var grid = projected.view(-1, baseWidth, 4, 4);
        return upsample.forward(grid);
    }

    /// <summary>Images in [-1, 1], the same range as the GAN's: 2*sigmoid(x)-1 = tanh(x/2).</summary>
    public Tensor Generate(Tensor z)
    {
        using var logits = forward(z);
        return (logits / 2).tanh_();
    }

    public Module AsModule => this;

    /// <summary>The projection to 4x4 maps, the upsampling stack, then Generate's tanh(x/2).</summary>
    public IReadOnlyList<InferenceLayer> InferenceLayers() =>
        [Models.InferenceLayers.Of(project), new ToFeatureMaps((int)baseWidth, 4, 4), .. Models.InferenceLayers.Of(upsample.children()), new TanhLayer(0.5f)];
}
