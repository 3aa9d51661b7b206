using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>
/// Classes found in unlabelled images (TrainOptions.Clusters): a self-supervised extractor trained on the images
/// (ContrastiveTraining), then k-means over its features, so a class-conditional model can be trained on data that came
/// without classes, as self-conditioned GANs do (Liu et al. 2020). Both steps are seeded with fixed seeds, so the same
/// images always give the same clusters, whatever the run's seed: a resumed run finds its classes again. Clusters are
/// numbered by size, largest first; a cluster k-means leaves empty (images with identical features) is dropped, so every
/// class has images.
/// </summary>
public static class ImageClusters
{
    public const int Seed = 1;

    /// <summary>
    /// The options with Clusters resolved for this data (TrainOptions.ResolvedClusters: a family's default where unset), and
    /// ModeSeeking with them (the family's default for where the run's classes come from: the data's own, clusters or
    /// none), so the checkpoint records what the run trains with. A resumed run keeps its checkpoint's, and one saved
    /// before these had defaults trained without them.
    /// </summary>
    public static TrainOptions Resolve(TrainOptions options, ModelKind kind, ImageTensorDataset data, CheckpointHeader? resumeFrom = null)
    {
        if (resumeFrom is not null)
            return options with { Clusters = resumeFrom.Options.Clusters ?? 0, ModeSeeking = resumeFrom.Options.ModeSeeking ?? 0 };
        var resolved = options with { Clusters = options.ResolvedClusters(kind, data.Count, data.Labels is not null) };
        return resolved with { ModeSeeking = resolved.ResolvedModeSeeking(kind, Origin(data, resolved)) };
    }

    /// <summary>Where a run with these options (resolved) on this data gets its classes: clusters, the data's own, or none.</summary>
    public static ClassOrigin Origin(ImageTensorDataset data, TrainOptions options) =>
        options.Conditional == false ? ClassOrigin.None
        : Apply(data, options) ? ClassOrigin.Clusters : data.ClassNames.Count > 0 ? ClassOrigin.Data : ClassOrigin.None;

    /// <summary>Whether a run with these options (resolved) on this data trains on clusters: asked for, and the data has no classes.</summary>
    public static bool Apply(ImageTensorDataset data, TrainOptions options) => options.Clusters is > 0 && data.Labels is null;

    /// <summary>
    /// The data labelled by options.Clusters clusters over the features of a self-supervised extractor trained on it here
    /// (seeded, as the pipeline's dataset-version extractor is); null where clustering does not apply (see Apply). The
    /// caller disposes what it gets.
    /// </summary>
    public static ImageTensorDataset? Label(ImageTensorDataset data, TrainOptions options, int extractorSteps = ContrastiveTraining.DefaultSteps,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!Apply(data, options)) return null;
        CheckCount(data, options.Clusters!.Value);
        progress?.Report($"clusters: training a self-supervised extractor on {data.Count} images ({extractorSteps} steps)");
        using var extractor = FeatureExtractor.TrainSelfSupervised(data, extractorSteps, Seed, progress, cancellationToken);
        return Label(data, options.Clusters!.Value, extractor, progress);
    }

    /// <summary>
    /// The data labelled by up to k clusters over the extractor's features, named cluster-01 (the largest), cluster-02, ...:
    /// fewer where k-means leaves some empty. ArgumentException where the images do not make two clusters.
    /// </summary>
    public static ImageTensorDataset Label(ImageTensorDataset data, int k, FeatureExtractor extractor, IProgress<string>? progress = null)
    {
        CheckCount(data, k);
        using var features = extractor.Extract(data);
        return Label(data, k, features, progress);
    }

    /// <summary>
    /// As Label with an extractor, from the data's features in it already made ([data.Count, d], row i image i's), such as a
    /// dataset version's stored training features (QualityReference.Training): the same clusters without a feature pass.
    /// </summary>
    public static ImageTensorDataset Label(ImageTensorDataset data, int k, Tensor features, IProgress<string>? progress = null)
    {
        CheckCount(data, k);
        CheckFeatures(data, features, nameof(features));
        var assigned = Assign(features, k, Seed);
        // Numbered by size, so the empty clusters are the last ones.
        var sizes = Enumerable.Range(0, k).Select(c => assigned.Count(a => a == c)).TakeWhile(size => size > 0).ToArray();
        if (sizes.Length < 2)
            throw new ArgumentException($"clusters {k}: the {data.Count} images do not make two clusters (their features are all alike)");
        progress?.Report($"clusters: {sizes.Length} by k-means over the extractor's features, of {string.Join(", ", sizes)} images" +
                         (sizes.Length < k ? $" ({k - sizes.Length} of the {k} asked for came out empty)" : ""));
        return new ImageTensorDataset(data.Pixels.clone(), $"{data.Description} in {sizes.Length} clusters", torch.tensor(assigned),
            [.. Enumerable.Range(1, sizes.Length).Select(c => $"cluster-{c:D2}")]);
    }

    /// <summary>
    /// The data labelled by the clusters of another image set (clustered: what Label made with the same extractor): each
    /// image joins the cluster whose centre, the mean of its members' unit-length features, is nearest. So the classes keep
    /// their names and meaning from one image set to the next, and a model trained on one set's clusters can go on
    /// training on the next's (a warm start across dataset versions). k-means ends with every image in its nearest centre's
    /// cluster, so the clustered images themselves get their own clusters back. Null, with the reason in
    /// <paramref name="whyNot"/>, when the data leaves a cluster without images. clusteredFeatures: the clustered images'
    /// features in the extractor where already made (as for Label), else they are extracted here.
    /// </summary>
    public static ImageTensorDataset? LabelLike(ImageTensorDataset data, ImageTensorDataset clustered, FeatureExtractor extractor, out string? whyNot,
        Tensor? clusteredFeatures = null)
    {
        if (clustered.Labels is null) throw new ArgumentException($"'{clustered.Description}' has no clusters to label other images by", nameof(clustered));
        if (clusteredFeatures is not null) CheckFeatures(clustered, clusteredFeatures, nameof(clusteredFeatures));
        int k = clustered.ClassNames.Count;
        long[] assigned;
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            var known = torch.nn.functional.normalize((clusteredFeatures ?? extractor.Extract(clustered)).to_type(ScalarType.Float32), dim: 1);
            var centres = torch.stack(Enumerable.Range(0, k).Select(c => known[clustered.Labels.eq(c)].mean([0])));
            var x = torch.nn.functional.normalize(extractor.Extract(data).to_type(ScalarType.Float32), dim: 1);
            assigned = torch.cdist(x, centres).argmin(1).data<long>().ToArray();
        }
        var empty = clustered.ClassNames.Where((_, c) => !assigned.Contains(c)).ToList();
        if (empty.Count > 0)
        {
            whyNot = $"the {data.Count} images leave {string.Join(", ", empty)} of the {k} clusters of {clustered.Description} without images";
            return null;
        }
        whyNot = null;
        return new ImageTensorDataset(data.Pixels.clone(), $"{data.Description} in the {k} clusters of {clustered.Description}", torch.tensor(assigned),
            clustered.ClassNames);
    }

    /// <summary>Features given for the data must be one row per image, in order.</summary>
    private static void CheckFeatures(ImageTensorDataset data, Tensor features, string parameter)
    {
        if (features.dim() != 2 || features.shape[0] != data.Count)
            throw new ArgumentException($"'{data.Description}' has {data.Count} images, but the features given are [{string.Join(", ", features.shape)}]", parameter);
    }

    private static void CheckCount(ImageTensorDataset data, int k)
    {
        if (k > data.Count) throw new ArgumentException($"clusters {k}: the dataset has {data.Count} images, fewer than the clusters asked for");
    }

    /// <summary>
    /// k-means over features [n, d], each row scaled to unit length (so distance is cosine distance): k-means++ seeding
    /// from a seeded Random, then Lloyd's iterations until no row changes cluster. Returns each row's cluster in 0..k-1,
    /// the largest cluster 0 (ties by first member). A cluster left empty keeps its centre.
    /// </summary>
    public static long[] Assign(Tensor features, int k, int seed, int maxIterations = 100)
    {
        long n = features.shape[0];
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must lie in 1..{n}, the number of rows");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = torch.nn.functional.normalize(features.to_type(ScalarType.Float32), dim: 1);
        var random = new Random(seed);
        var chosen = new List<long> { random.NextInt64(n) };
        var nearest = (x - x[chosen[0]]).pow(2).sum(1);
        while (chosen.Count < k)
        {
            // The next centre drawn with probability proportional to its squared distance from the nearest centre so far.
            var cumulative = nearest.to_type(ScalarType.Float64).cumsum(0);
            double target = random.NextDouble() * cumulative[-1].item<double>();
            long next = Math.Min(n - 1, cumulative.lt(target).sum().item<long>());
            chosen.Add(next);
            nearest = torch.minimum(nearest, (x - x[next]).pow(2).sum(1));
        }
        var centres = x.index_select(0, torch.tensor(chosen.ToArray()));
        Tensor? assigned = null;
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            var next = torch.cdist(x, centres).argmin(1);
            if (assigned is not null && next.eq(assigned).all().item<bool>()) break;
            assigned = next;
            for (int c = 0; c < k; c++)
            {
                var members = assigned.eq(c);
                if (members.any().item<bool>()) centres[c] = x[members].mean([0]);
            }
        }
        var raw = assigned!.data<long>().ToArray();
        // Renumbered by size, largest first; equal sizes by their first member (an empty cluster has none: last).
        var sizes = new int[k];
        var firstMember = Enumerable.Repeat(n, k).ToArray();
        for (long i = n - 1; i >= 0; i--) { sizes[raw[i]]++; firstMember[raw[i]] = i; }
        var order = Enumerable.Range(0, k).OrderByDescending(c => sizes[c]).ThenBy(c => firstMember[c]).ToArray();
        var rank = new long[k];
        for (int i = 0; i < k; i++) rank[order[i]] = i;
        return [.. raw.Select(a => rank[a])];
    }
}
