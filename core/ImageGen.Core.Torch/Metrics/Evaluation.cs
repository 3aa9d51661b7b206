using ImageGen.Core.Data;
using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>
/// Metrics of a trained generator against its data, cheap enough to run after every training run: how far the
/// samples' pixel statistics are from the data's, and for VAEs the reconstruction error on the data. The
/// feature-space scores that rank models (FD, KID, precision/recall, memorization) are QualityScores.
/// </summary>
public static class Evaluation
{
    public const int SampleSeeds = 64;

    public static Dictionary<string, double> Evaluate(ImageSampler sampler, ImageTensorDataset data, int maxImages = 512, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int n = Math.Min(maxImages, data.Count);
        using var scope = torch.NewDisposeScope();
        using var inference = torch.inference_mode();
        var real = data.Batch(torch.arange(n));
        var fake = sampler.Generate(Seeds.Range(1_000_000, n));
        cancellationToken.ThrowIfCancellationRequested();
        var metrics = new Dictionary<string, double>
        {
            ["evalImages"] = n,
            ["pixelMeanGap"] = Math.Abs(fake.mean().item<float>() - real.mean().item<float>()),
            ["pixelStdGap"] = Math.Abs(fake.std().item<float>() - real.std().item<float>()),
            // Per-pixel diversity: identical samples (mode collapse) score near 0.
            ["sampleDiversity"] = fake.std(0).mean().item<float>(),
            ["dataDiversity"] = real.std(0).mean().item<float>(),
        };
        // A class-conditional VAE reconstructs each image with its class: the data's labels, where they name the model's classes.
        int[]? classes = sampler.Spec.Classes > 0 && data.Labels is not null && data.ClassNames.SequenceEqual(sampler.ClassNames) ? [.. data.BatchLabels(torch.arange(n))!.data<long>().ToArray().Select(c => (int)c)] : null;
        if (sampler.CanReconstruct && (sampler.Spec.Classes == 0 || classes is not null))
            metrics["reconstructionMse"] = torch.nn.functional.mse_loss(sampler.Reconstruct(real, classes), real).item<float>();
        return metrics;
    }

    /// <summary>The published sample grid: seeds 0..63 in an 8x8 grid.</summary>
    public static byte[] SampleGridPng(ImageSampler sampler)
    {
        using var images = sampler.Generate(Seeds.Range(0, SampleSeeds));
        return Imaging.TensorImages.EncodeGridPng(images, nrow: 8, padding: 2);
    }
}
