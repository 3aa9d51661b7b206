using ImageGen.Core.Models;

namespace ImageGen.Core.Training;

/// <summary>The training step of each model family (ModelFamily lists the families; this lists their steps).</summary>
public static class Trainables
{
    private static readonly Dictionary<ModelKind, Func<ModelSpec, TrainOptions, ITrainable>> Steps = new()
    {
        [ModelKind.Dcgan] = (spec, options) => new GanTrainable(spec, options),
        [ModelKind.Vae] = (spec, options) => new VaeTrainable(spec, options),
    };

    /// <summary>A fresh model family with its optimizers (weights drawn from torch's global RNG).</summary>
    public static ITrainable Create(ModelSpec spec, TrainOptions options) =>
        Steps.TryGetValue(spec.Kind, out var create) ? create(spec, options)
            : throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "no training step for this model kind");
}
