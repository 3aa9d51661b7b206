using ImageGen.Core.Data;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>The training step of each model family (ModelFamily lists the families; this lists their steps).</summary>
public static class Trainables
{
    private static readonly Dictionary<ModelKind, Func<ModelSpec, TrainOptions, ImageTensorDataset?, Device, ITrainable>> Steps = new()
    {
        [ModelKind.Dcgan] = (spec, options, _, device) => new GanTrainable(spec, options, device),
        [ModelKind.Vae] = (spec, options, data, device) => new VaeTrainable(spec, options, data, device),
    };

    /// <summary>
    /// A fresh model family with its optimizers (weights drawn from torch's global RNG on the CPU, then moved to device:
    /// the same weights on either device). The training data, where given, is what its checkpoints fit a latent prior to
    /// (fitPrior). Its Step and Generate take tensors on device.
    /// </summary>
    public static ITrainable Create(ModelSpec spec, TrainOptions options, ImageTensorDataset? data = null, Device? device = null) =>
        Steps.TryGetValue(spec.Kind, out var create) ? create(spec, options, data, device ?? torch.CPU)
            : throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "no training step for this model kind");
}
