using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ImageGen.Core.Models;

/// <summary>
/// DCGAN generator (Radford et al. 2016; pytorch/examples dcgan): z -> 4x4 by a transposed convolution,
/// then stride-2 transposed convolutions with BatchNorm and ReLU up to the image size, Tanh output in [-1, 1].
/// A class-conditional generator takes z followed by the one-hot class: on the 1x1 input the first transposed
/// convolution is a linear layer, so its class columns are a learned class embedding added to the first feature map.
/// </summary>
public sealed class DcganGenerator : Module<Tensor, Tensor>, IImageGenerator
{
    private readonly Sequential main;
    public ModelSpec Spec { get; }

    public DcganGenerator(ModelSpec spec) : base(nameof(DcganGenerator))
    {
        Spec = spec;
        int stages = spec.Stages;
        long width = spec.Ngf * (1L << (stages - 1));
        main = Sequential();
        main.append("convt0", new PaddedConvTranspose2d(spec.InputSize, width, 4, stride: 1, padding: 0, bias: false));
        main.append("bn0", BatchNorm2d(width));
        main.append("relu0", ReLU(inplace: true));
        for (int i = 1; i < stages; i++)
        {
            main.append($"convt{i}", new PaddedConvTranspose2d(width, width / 2, 4, stride: 2, padding: 1, bias: false));
            main.append($"bn{i}", BatchNorm2d(width / 2));
            main.append($"relu{i}", ReLU(inplace: true));
            width /= 2;
        }
        main.append($"convt{stages}", new PaddedConvTranspose2d(width, spec.Channels, 4, stride: 2, padding: 1, bias: false));
        main.append("tanh", Tanh());
        RegisterComponents();
        DcganInit.Apply(this);
    }

    /// <summary>z (with the one-hot class where conditional): [batch, nz (+ classes)] or [batch, nz (+ classes), 1, 1].</summary>
    public override Tensor forward(Tensor z) => main.forward(z.dim() == 2 ? z.view(z.shape[0], z.shape[1], 1, 1) : z);

    public Tensor Generate(Tensor z) => forward(z);
    public Module AsModule => this;

    /// <summary>The input seen as a 1x1 feature map, then the stack as built.</summary>
    public IReadOnlyList<InferenceLayer> InferenceLayers() => [new ToFeatureMaps(Spec.InputSize, 1, 1), .. Models.InferenceLayers.Of(main.children())];
}

/// <summary>
/// DCGAN discriminator: stride-2 convolutions with LeakyReLU(0.2) (BatchNorm after the first), one logit per image.
/// Class-conditional: a projection discriminator (Miyato and Koyama 2018) adds the inner product of the class's
/// embedding with the final features, summed over the 4x4 positions, to the logit.
/// </summary>
public sealed class DcganDiscriminator : Module<Tensor, Tensor>
{
    private readonly Sequential main;
    private readonly Embedding? classEmbedding;
    private readonly Module<Tensor, Tensor>[] layers;

    public DcganDiscriminator(ModelSpec spec) : base(nameof(DcganDiscriminator))
    {
        int stages = spec.Stages;
        long width = spec.Ndf;
        main = Sequential();
        main.append("conv0", new PaddedConv2d(spec.Channels, width, 4, stride: 2, padding: 1, bias: false));
        main.append("lrelu0", LeakyReLU(0.2, inplace: true));
        for (int i = 1; i < stages; i++)
        {
            main.append($"conv{i}", new PaddedConv2d(width, width * 2, 4, stride: 2, padding: 1, bias: false));
            main.append($"bn{i}", BatchNorm2d(width * 2));
            main.append($"lrelu{i}", LeakyReLU(0.2, inplace: true));
            width *= 2;
        }
        main.append($"conv{stages}", new PaddedConv2d(width, 1, 4, stride: 1, padding: 0, bias: false));
        layers = [.. main.children().Cast<Module<Tensor, Tensor>>()];
        if (spec.Classes > 0) classEmbedding = Embedding(spec.Classes, width);
        RegisterComponents();
        DcganInit.Apply(this);
        if (classEmbedding is not null) using (torch.no_grad()) init.normal_(classEmbedding.weight!, 0.0, 0.02);
    }

    /// <summary>Returns raw logits, shape [batch]: BCE-with-logits and hinge losses both take logits.</summary>
    public override Tensor forward(Tensor images) => main.forward(images).view(-1);

    /// <summary>Logits of images of the given classes (int64 [batch]); labels are ignored by an unconditional discriminator.</summary>
    public Tensor Logits(Tensor images, Tensor? labels)
    {
        if (classEmbedding is null || labels is null) return forward(images);
        using var scope = torch.NewDisposeScope();
        var features = images;
        for (int i = 0; i < layers.Length - 1; i++) features = layers[i].forward(features);
        var logits = layers[^1].forward(features).view(-1);
        var projection = (classEmbedding.forward(labels) * features.sum([2, 3])).sum(1);
        return (logits + projection).MoveToOuterDisposeScope();
    }
}

/// <summary>The DCGAN paper's initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02) and bias 0.</summary>
public static class DcganInit
{
    public static void Apply(Module root)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in root.named_modules())
        {
            switch (module)
            {
                case PaddedConv2d conv: init.normal_(conv.Weight, 0.0, 0.02); break;
                case PaddedConvTranspose2d convT: init.normal_(convT.Weight, 0.0, 0.02); break;
                case Linear linear: init.normal_(linear.weight, 0.0, 0.02); if (linear.bias is not null) init.zeros_(linear.bias); break;
                case BatchNorm2d bn:
                    init.normal_(bn.weight, 1.0, 0.02);
                    init.zeros_(bn.bias);
                    break;
            }
        }
    }
}
