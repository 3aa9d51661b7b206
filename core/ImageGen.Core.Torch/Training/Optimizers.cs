using ImageGen.Core.Models;
using TorchSharp;
using TorchSharp.Modules;

namespace ImageGen.Core.Training;

internal static class Optimizers
{
    public static OptimizerHelper Create(IEnumerable<Parameter> parameters, TrainOptions options, ModelKind kind)
    {
        double lr = options.ResolvedLr(kind);
        return options.Optimizer switch
        {
            OptimizerKind.Adam => torch.optim.Adam(parameters, lr, beta1: options.ResolvedBeta1(kind), beta2: options.Beta2),
            OptimizerKind.Rmsprop => torch.optim.RMSProp(parameters, lr, momentum: options.Momentum ?? 0.0),
            OptimizerKind.Sgd => torch.optim.SGD(parameters, lr, momentum: options.Momentum ?? 0.9),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "unknown optimizer"),
        };
    }

    public static Action<BinaryWriter> Section(OptimizerHelper optimizer) => w => optimizer.save_state_dict(w);
    public static void Load(OptimizerHelper optimizer, byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        optimizer.load_state_dict(reader);
    }
}
