using TorchSharp;
using ImageGen.Core.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ImageGen.Core.Metrics;

/// <summary>
/// A small LeNet-style classifier (two 3x3 conv blocks with max-pooling, a 128-unit layer, the class layer). Its
/// 128-unit layer is the feature space the quality metrics are computed in, as people do for MNIST-like data where
/// Inception's ImageNet features fit poorly; scores are comparable only within one extractor file.
/// </summary>
public sealed class FeatureClassifier : Module<Tensor, Tensor>
{
    public const int FeatureSize = 128;
    private readonly Sequential features;
    private readonly Linear classes;

    public FeatureClassifier(int channels, int imageSize, int classCount) : base(nameof(FeatureClassifier))
    {
        if (imageSize % 4 != 0) throw new ArgumentException($"image size {imageSize} must be a multiple of 4");
        features = Sequential(
            ("conv1", new PaddedConv2d(channels, 32, 3, padding: 1)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", new PaddedConv2d(32, 64, 3, padding: 1)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()), ("fc", Linear(64L * (imageSize / 4) * (imageSize / 4), FeatureSize)), ("relu3", ReLU()));
        classes = Linear(FeatureSize, classCount);
        RegisterComponents();
    }

    /// <summary>Class logits for images in [-1, 1].</summary>
    public override Tensor forward(Tensor images)
    {
        using var f = features.forward(images);
        return classes.forward(f);
    }

    /// <summary>The 128 features of each image in [-1, 1].</summary>
    public Tensor Features(Tensor images) => features.forward(images);
}
