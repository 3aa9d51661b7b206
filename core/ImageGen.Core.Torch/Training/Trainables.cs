using ImageGen.Core.Data;
using ImageGen.Core.Models;

namespace ImageGen.Core.Training;

/// <summary>The training step of each model family (ModelFamily lists the families; this lists their steps).</summary>
public static class Trainables
{
    private static readonly Dictionary<ModelKind, Func<ModelSpec, TrainOptions, ImageTensorDataset?, ITrainable>> Steps = new()
    {
        [ModelKind.Dcgan] = (spec, options, _) => new GanTrainable(spec, options),
        [ModelKind.Vae] = (spec, options, data) => new VaeTrainable(spec, options, data),
    };

    /// <summary>
    /// A fresh model family with its optimizers (weights drawn from torch's global RNG). The training data, where given,
    /// is what its checkpoints fit a latent prior to (fitPrior).
    /// </summary>
    public static ITrainable Create(ModelSpec spec, TrainOptions options, ImageTensorDataset? data = null) =>
        Steps.TryGetValue(spec.Kind, out var create) ? create(spec, options, data)
            : throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "no training step for this model kind");
}
