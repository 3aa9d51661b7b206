using ImageGen.Core.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Metrics;

/// <summary>
/// Self-supervised training of the extractor's network for unlabeled data (SimCLR, Chen et al. 2020, at small
/// scale): two random augmentations of each image in a batch are pulled together and pushed away from every other
/// image's (the NT-Xent loss over the 64-unit projection head). The 128-unit layer below the head is kept as the
/// feature space: it ends up sensitive to what tells the dataset's images apart (shape, layout, tone) and
/// insensitive to the small shifts, flips and brightness changes that do not.
/// </summary>
public static class ContrastiveTraining
{
    public const int ProjectionSize = 64;
    public const int DefaultSteps = 400;
    private const double Temperature = 0.2;

    public static FeatureClassifier Train(ImageTensorDataset data, int steps, int seed, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        if (data.Count < 4) throw new ArgumentException($"self-supervised features need at least 4 images; the dataset has {data.Count}");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 1");
        torch.manual_seed(seed);
        var model = new FeatureClassifier(data.Channels, data.ImageSize, ProjectionSize);
        try
        {
            using var optimizer = torch.optim.Adam(model.parameters(), 1e-3);
            using var random = new torch.Generator((ulong)seed);
            int batch = Math.Min(128, data.Count);
            model.train();
            double lossSum = 0;
            for (int step = 1; step <= steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var images = data.Batch(torch.randperm(data.Count, generator: random)[..batch]);
                var views = torch.cat([Augment(images, random), Augment(images, random)]);
                var z = F.normalize(model.forward(views), dim: 1);
                // Each view's positive is the other view of its image; every other view in the batch is a negative.
                var logits = z.matmul(z.t()).div_(Temperature).masked_fill(torch.eye(2 * batch, dtype: ScalarType.Bool), -1e9);
                var targets = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]);
                var loss = F.cross_entropy(logits, targets);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                lossSum += loss.item<float>();
                if (step % 100 == 0 || step == steps)
                {
                    progress?.Report($"self-supervised features: step {step}/{steps}, mean loss {lossSum / (step % 100 == 0 ? 100 : step % 100):0.000}");
                    lossSum = 0;
                }
            }
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose(); // cancelled or failed: the network's native memory goes now, not at a finalizer
            throw;
        }
    }

    /// <summary>
    /// A random view of each image in [-1, 1]: shifted up to 1/8 of its side, scaled by 0.85-1.15, flipped left-right
    /// half the time (one affine resampling, edges repeated), then brightness +-0.2 and contrast 0.7-1.3.
    /// </summary>
    public static Tensor Augment(Tensor images, torch.Generator random)
    {
        long n = images.shape[0];
        var scale = torch.rand(n, generator: random).mul_(0.3).add_(0.85);
        var flip = torch.rand(n, generator: random).lt(0.5).to_type(ScalarType.Float32).mul_(-2).add_(1);
        var shift = torch.rand([n, 2], generator: random).mul_(0.5).sub_(0.25); // normalized coordinates span 2: 1/8 of the side
        var zero = torch.zeros(n);
        var theta = torch.stack([scale * flip, zero, shift[.., 0], zero, scale, shift[.., 1]], dim: 1).view(n, 2, 3);
        var grid = F.affine_grid(theta, [n, images.shape[1], images.shape[2], images.shape[3]], align_corners: false);
        var moved = F.grid_sample(images, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);
        var brightness = torch.rand([n, 1, 1, 1], generator: random).mul_(0.4).sub_(0.2);
        var contrast = torch.rand([n, 1, 1, 1], generator: random).mul_(0.6).add_(0.7);
        var mean = moved.mean([1, 2, 3], keepdim: true);
        return moved.sub(mean).mul_(contrast).add_(mean).add_(brightness).clamp_(-1, 1);
    }
}
