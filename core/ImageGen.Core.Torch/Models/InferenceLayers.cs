using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ImageGen.Core.Models;

/// <summary>
/// One step of a generator's forward pass at inference, with its weights copied out of the network: what an exporter
/// (ONNX) needs to rebuild the pass without TorchSharp. Weights keep PyTorch's layouts.
/// </summary>
public abstract record InferenceLayer;

/// <summary>y = x W^T + b: weight [Out, In] row-major.</summary>
public sealed record LinearLayer(int In, int Out, float[] Weight, float[] Bias) : InferenceLayer;

/// <summary>[n, C*H*W] (or [n, C]) viewed as feature maps [n, C, H, W].</summary>
public sealed record ToFeatureMaps(int Channels, int Height, int Width) : InferenceLayer;

/// <summary>A square transposed convolution: weight [In, Out, Kernel, Kernel] row-major; bias [Out] or null.</summary>
public sealed record TransposedConvolutionLayer(int In, int Out, int Kernel, int Stride, int Padding, float[] Weight, float[]? Bias) : InferenceLayer;

/// <summary>A square convolution: weight [Out, In, Kernel, Kernel] row-major; bias [Out] or null.</summary>
public sealed record ConvolutionLayer(int In, int Out, int Kernel, int Stride, int Padding, float[] Weight, float[]? Bias) : InferenceLayer;

/// <summary>Feature maps [n, C, H, W] flattened to [n, C*H*W], as torch's flatten(1).</summary>
public sealed record FlattenLayer : InferenceLayer;

/// <summary>x where x &gt;= 0, else Slope * x.</summary>
public sealed record LeakyReluLayer(float Slope) : InferenceLayer;

/// <summary>BatchNorm in eval mode: (x - mean) / sqrt(var + eps) * weight + bias, per channel.</summary>
public sealed record BatchNormLayer(int Channels, float[] Weight, float[] Bias, float[] RunningMean, float[] RunningVar, double Eps) : InferenceLayer;

public sealed record ReluLayer : InferenceLayer;

/// <summary>tanh(Scale * x): the GAN's output (Scale 1), and the VAE's 2*sigmoid(x)-1 = tanh(x/2).</summary>
public sealed record TanhLayer(float Scale) : InferenceLayer;

/// <summary>
/// A latent multiplied by its class's matrix: [n, nz + classes] (the latent, then the one-hot class) to the same shape
/// with the latent replaced by Values[y] latent. Values: [Classes, nz, nz] row-major. A VAE's decoder takes eps through it
/// to its class's prior scale (and its encoder gives eps back through the inverses): LatentPrior's scales per class.
/// </summary>
public sealed record ClassLatentScales(int Classes, int LatentSize, float[] Values) : InferenceLayer
{
    /// <summary>Each row of latents [n, nz] multiplied by the matrix of its class, picked by oneHot [n, classes].</summary>
    public Tensor Apply(Tensor latents, Tensor oneHot)
    {
        using var scope = torch.NewDisposeScope();
        var matrices = torch.tensor(Values, [Classes, LatentSize * LatentSize], latents.dtype, latents.device);
        // The one-hot picks each row's matrix as a product, as the ONNX graph does: [n, nz, nz] times [n, nz, 1].
        var picked = oneHot.to_type(latents.dtype).matmul(matrices).view(-1, LatentSize, LatentSize);
        return picked.matmul(latents.unsqueeze(2)).squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>Apply to a generator's whole input [n, nz + classes].</summary>
    public Tensor ApplyToInput(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var oneHot = input[.., LatentSize..];
        return torch.cat([Apply(input[.., ..LatentSize], oneHot), oneHot], 1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Feature maps [n, C, H, W] plus a per-channel shift that the class picks: Table [Classes, Channels] row-major, the
/// row of each image's class added to every position of its maps (a conditional encoder's class after its first convolution).
/// </summary>
public sealed record ClassShiftLayer(int Classes, int Channels, float[] Table) : InferenceLayer;

/// <summary>[n, k] to [n, k + Classes]: the one-hot class appended, as a conditional network's heads take it.</summary>
public sealed record AppendClassLayer(int Classes) : InferenceLayer;

/// <summary>[n, k] to its first Count columns (the latent, once a step that needed the class beside it is done).</summary>
public sealed record FirstColumnsLayer(int Count) : InferenceLayer;

/// <summary>The layers of the networks' own modules, in order. LeakyReLU keeps its slope private in TorchSharp, so the network that uses one passes it.</summary>
public static class InferenceLayers
{
    public static IEnumerable<InferenceLayer> Of(IEnumerable<Module> modules, float leakyReluSlope = 0.2f) => modules.Select(m => Of(m, leakyReluSlope));

    public static InferenceLayer Of(Module module, float leakyReluSlope = 0.2f) => module switch
    {
        PaddedConv2d conv => new ConvolutionLayer((int)conv.InChannels, (int)conv.OutChannels, (int)conv.Kernel, (int)conv.Stride, (int)conv.Padding,
            Floats(conv.Weight), conv.Bias is null ? null : Floats(conv.Bias)),
        TorchSharp.Modules.LeakyReLU => new LeakyReluLayer(leakyReluSlope),
        Linear linear => new LinearLayer((int)linear.in_features, (int)linear.out_features, Floats(linear.weight!), Floats(linear.bias!)),
        PaddedConvTranspose2d convT => new TransposedConvolutionLayer((int)convT.InChannels, (int)convT.OutChannels, (int)convT.Kernel, (int)convT.Stride,
            (int)convT.Padding, Floats(convT.Weight), convT.Bias is null ? null : Floats(convT.Bias)),
        BatchNorm2d bn => new BatchNormLayer((int)bn.num_features, Floats(bn.weight!), Floats(bn.bias!), Floats(bn.running_mean!), Floats(bn.running_var!), bn.eps),
        TorchSharp.Modules.ReLU => new ReluLayer(),
        TorchSharp.Modules.Tanh => new TanhLayer(1),
        _ => throw new NotSupportedException($"no inference layer for a {module.GetType().Name} module"),
    };

    private static float[] Floats(Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        return cpu.data<float>().ToArray();
    }
}
