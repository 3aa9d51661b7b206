using ImageGen.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;

namespace ImageGen.Core.Training;

/// <summary>One named section of a trainable's checkpoint: how it is written and how it is loaded back.</summary>
public sealed record CheckpointPart(string Name, Action<BinaryWriter> Write, Action<byte[]> Load)
{
    public static CheckpointPart Module(string name, torch.nn.Module module) =>
        new(name, Checkpoint.ModuleSection(module), bytes => Checkpoint.LoadModule(module, bytes, name));

    public static CheckpointPart Optimizer(string name, OptimizerHelper optimizer) =>
        new(name, Optimizers.Section(optimizer), bytes => Optimizers.Load(optimizer, bytes));
}

public static class TrainableCheckpoints
{
    /// <summary>Loads every part of the model from a checkpoint's sections (a resume, or a test's trained copy).</summary>
    public static void Load(this ITrainable model, IReadOnlyDictionary<string, byte[]> sections)
    {
        foreach (var part in model.Parts)
        {
            if (!sections.TryGetValue(part.Name, out var bytes)) throw new InvalidDataException($"checkpoint has no '{part.Name}' section to resume from");
            try { part.Load(bytes); }
            catch (Exception e) when (e is ArgumentException or EndOfStreamException or FormatException or IOException or InvalidOperationException)
            {
                throw new InvalidDataException($"checkpoint section '{part.Name}' cannot be resumed from: {e.Message}", e);
            }
        }
    }
}
