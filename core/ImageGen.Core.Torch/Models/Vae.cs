using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ImageGen.Core.Models;

/// <summary>
/// Convolutional VAE encoder: stride-2 convolutions down to 4x4, then linear heads for mu and log-variance.
/// A class-conditional one (spec.ConditionalEncoder) is q(z | x, y): the class shifts the first convolution's maps and
/// enters both heads beside the features, so z need not carry the class that the decoder is given.
/// </summary>
public sealed class VaeEncoder : Module<Tensor, (Tensor mu, Tensor logvar)>, IImageEncoder
{
    private readonly Sequential features;
    private readonly Module<Tensor, Tensor>[] layers;
    private readonly Linear mu;
    private readonly Linear logvar;
    private readonly Embedding? classShift;
    private readonly int classes;
    /// <summary>The inverses of a fitted prior's scales per class (LatentPrior), applied after the mean head; null: none.</summary>
    private ClassLatentScales? latentInverseScales;
    public ModelSpec Spec { get; }

    public VaeEncoder(ModelSpec spec) : base(nameof(VaeEncoder))
    {
        Spec = spec;
        int stages = spec.Stages;
        long width = spec.Ndf;
        classes = spec.ConditionalEncoder ? spec.Classes : 0;
        features = Sequential();
        features.append("conv0", new PaddedConv2d(spec.Channels, width, 4, stride: 2, padding: 1));
        if (classes > 0) classShift = Embedding(classes, width);
        features.append("lrelu0", LeakyReLU(LeakySlope));
        for (int i = 1; i < stages; i++)
        {
            features.append($"conv{i}", new PaddedConv2d(width, width * 2, 4, stride: 2, padding: 1, bias: false));
            features.append($"bn{i}", BatchNorm2d(width * 2));
            features.append($"lrelu{i}", LeakyReLU(LeakySlope));
            width *= 2;
        }
        long flat = width * 4 * 4;
        mu = Linear(flat + classes, spec.LatentSize);
        logvar = Linear(flat + classes, spec.LatentSize);
        if (classShift is not null) using (torch.no_grad()) nn.init.zeros_(classShift.weight!);
        layers = [.. features.children().Cast<Module<Tensor, Tensor>>()];
        RegisterComponents();
    }

    public override (Tensor mu, Tensor logvar) forward(Tensor images) => Encode(images, null);

    /// <summary>q(z | x) for an unconditional encoder; q(z | x, y) with each image's class (int64 [n]) for a conditional one.</summary>
    public (Tensor mu, Tensor logvar) Encode(Tensor images, Tensor? labels)
    {
        using var scope = torch.NewDisposeScope();
        var h = Features(images, labels);
        return (Mean(h, labels).MoveToOuterDisposeScope(), logvar.forward(h).MoveToOuterDisposeScope());
    }

    public Tensor EncodeMean(Tensor images, Tensor? labels = null)
    {
        using var scope = torch.NewDisposeScope();
        return Mean(Features(images, labels), labels).MoveToOuterDisposeScope();
    }

    /// <summary>The mean head over the features, then a fitted prior's inverse scale of each image's class where there is one.</summary>
    private Tensor Mean(Tensor h, Tensor? labels)
    {
        var mean = mu.forward(h);
        return latentInverseScales is null ? mean : latentInverseScales.Apply(mean, torch.nn.functional.one_hot(labels!, classes));
    }

    private Tensor Features(Tensor images, Tensor? labels)
    {
        if (classes == 0) return features.forward(images).flatten(1);
        if (labels is null) throw new InvalidOperationException("a class-conditional encoder needs each image's class");
        var h = layers[0].call(images) + classShift!.forward(labels).unsqueeze(-1).unsqueeze(-1);
        foreach (var layer in layers.Skip(1)) h = layer.call(h);
        return torch.cat([h.flatten(1), torch.nn.functional.one_hot(labels, classes).to_type(h.dtype)], 1);
    }

    private const double LeakySlope = 0.2;

    /// <summary>The mean head's weight [nz, features (+ classes)] and bias, for LatentPrior to fold into.</summary>
    internal (Tensor Weight, Tensor Bias) MeanHead => (mu.weight!, mu.bias!);

    /// <summary>From here on, Encode's mean is multiplied by its class's matrix (the inverses of a fitted prior's scales per class).</summary>
    internal void ScaleLatentsByClass(ClassLatentScales inverses)
    {
        if (classes != inverses.Classes || Spec.LatentSize != inverses.LatentSize)
            throw new InvalidDataException($"scales for {inverses.Classes} classes at nz {inverses.LatentSize} do not fit an encoder that takes {classes} classes at nz {Spec.LatentSize}");
        latentInverseScales = inverses;
    }

    /// <summary>
    /// EncodeMean's pass: the convolution stack, flatten, the mean's head. A conditional encoder's class enters as in
    /// Features (its shift after the first convolution, its one-hot beside the features), and a fitted prior's inverse
    /// scales follow the head: the one-hot appended for them, then the latent alone taken back.
    /// </summary>
    public IReadOnlyList<InferenceLayer> InferenceLayers()
    {
        var stack = Models.InferenceLayers.Of(features.children(), (float)LeakySlope).ToList();
        if (classes == 0) return [.. stack, new FlattenLayer(), Models.InferenceLayers.Of(mu)];
        using var shift = classShift!.weight!.detach().cpu().contiguous();
        return
        [
            stack[0], new ClassShiftLayer(classes, (int)shift.shape[1], shift.data<float>().ToArray()), .. stack.Skip(1),
            new FlattenLayer(), new AppendClassLayer(classes), Models.InferenceLayers.Of(mu),
            .. latentInverseScales is null ? Array.Empty<InferenceLayer>() : [new AppendClassLayer(classes), latentInverseScales, new FirstColumnsLayer(Spec.LatentSize)],
        ];
    }

    /// <summary>Whether EncodeMean needs each image's class (a conditional encoder).</summary>
    public bool TakesClass => classes > 0;

    public nn.Module AsModule => this;
}

/// <summary>
/// Convolutional VAE decoder: z -> 4x4 by a linear layer, then the DCGAN generator's upsampling stack; outputs logits.
/// A class-conditional decoder takes z followed by the one-hot class (p(x | z, y)).
/// </summary>
public sealed class VaeDecoder : Module<Tensor, Tensor>, IImageGenerator
{
    private readonly Linear project;
    private readonly Sequential upsample;
    private readonly long baseWidth;
    /// <summary>A fitted prior's scales per class (LatentPrior), which eps passes through before the input layer; null: none.</summary>
    private ClassLatentScales? latentScales;
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

    /// <summary>The input layer's weight [4x4 maps, nz + classes] and bias, for LatentPrior to fold into.</summary>
    internal (Tensor Weight, Tensor Bias) InputLayer => (project.weight!, project.bias!);

    /// <summary>From here on, each input's latent is first multiplied by its class's matrix (a fitted prior's scales per class).</summary>
    internal void ScaleLatentsByClass(ClassLatentScales scales)
    {
        if (Spec.Classes != scales.Classes || Spec.LatentSize != scales.LatentSize)
            throw new InvalidDataException($"scales for {scales.Classes} classes at nz {scales.LatentSize} do not fit a decoder of {Spec.Classes} classes at nz {Spec.LatentSize}");
        latentScales = scales;
    }

    /// <summary>Logits of pixel intensities in [0, 1] (sigmoid gives the image).</summary>
    public override Tensor forward(Tensor z)
    {
        using var scope = torch.NewDisposeScope();
        var input = z.dim() == 4 ? z.flatten(1) : z;
        if (latentScales is not null) input = latentScales.ApplyToInput(input);
        var grid = project.forward(input).view(-1, baseWidth, 4, 4);
        return upsample.forward(grid).MoveToOuterDisposeScope();
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
        [.. latentScales is null ? Array.Empty<InferenceLayer>() : [latentScales], Models.InferenceLayers.Of(project), new ToFeatureMaps((int)baseWidth, 4, 4), .. Models.InferenceLayers.Of(upsample.children()), new TanhLayer(0.5f)];
}
