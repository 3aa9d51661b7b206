using ImageGen.Core.Models;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>What the trainer needs of a model family: one optimisation step, its checkpoint sections, its sample images.</summary>
public interface ITrainable : IDisposable
{
    /// <summary>
    /// What the model, as a checkpoint saved now would serve it, draws for these generator inputs (call in eval mode):
    /// the moving average where one is kept, the fitted latent prior where one is fitted.
    /// </summary>
    Tensor Generate(Tensor inputs);
    /// <summary>
    /// One optimisation step on a batch in [-1, 1] with its class indices (int64, for a class-conditional model; else
    /// null); returns this step's scalars (losses, D outputs).
    /// </summary>
    Dictionary<string, double> Step(Tensor batch, Tensor? labels);
    void SetTraining(bool training);
    /// <summary>Everything a checkpoint holds of the family (networks, optimizer states), in writing order.</summary>
    IReadOnlyList<CheckpointPart> Parts { get; }
    /// <summary>Extra images per epoch beyond the fixed-noise grid (VAE: inputs over reconstructions).</summary>
    void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix);
    /// <summary>Multiply-adds per image of one forward pass of each network, for FLOP counts.</summary>
    long TrainingMacsPerImage { get; }
}
