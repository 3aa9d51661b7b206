using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

/// <summary>The quality metrics on feature sets whose answers are known in closed form or by construction.</summary>
public class MetricsTests
{
    private static Tensor Gaussian(int n, int d, int seed, double scale = 1.0, double shift = 0.0)
    {
        using var generator = new torch.Generator((ulong)seed);
        return torch.randn([n, d], generator: generator, dtype: ScalarType.Float64) * scale + shift;
    }

    /// <summary>k-means finds three planted groups of directions (of 20, 60 and 40 rows, interleaved), numbered by size.</summary>
    [Fact]
    public void Kmeans_finds_planted_clusters_and_numbers_them_by_size()
    {
        TestImages.EnsureRuntime();
        using var generator = new torch.Generator(7);
        using var centres = torch.randn([3, 16], generator: generator);
        int[] sizes = [20, 60, 40];
        var groups = Enumerable.Range(0, 120).Select(i => i % 6 == 0 ? 0 : i % 2 == 1 ? 1 : 2).ToArray(); // 20, 60 and 40 rows
        Assert.Equal(sizes, Enumerable.Range(0, 3).Select(g => groups.Count(x => x == g)).ToArray());
        using var group = torch.tensor(groups.Select(g => (long)g).ToArray());
        using var features = centres.index_select(0, group) + torch.randn([120, 16], generator: generator) * 0.05;
        var assigned = ImageClusters.Assign(features, 3, seed: 1);
        long[] bySize = [2, 0, 1]; // the 60-row group is cluster 0, the 40-row one 1, the 20-row one 2
        Assert.Equal(groups.Select(g => bySize[g]).ToArray(), assigned);
        Assert.Equal(assigned, ImageClusters.Assign(features, 3, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageClusters.Assign(features, 121, seed: 1));
    }

    /// <summary>
    /// Unlabelled plain and inverted shapes fall into two clusters, one kind each, found again from the same images; data
    /// with classes of its own keeps them, and options that cannot work are refused by name.
    /// </summary>
    [Fact]
    public void Clusters_of_unlabelled_shapes_separate_plain_from_inverted_and_are_found_again()
    {
        TestImages.EnsureRuntime();
        using var shapes = SyntheticShapes.Generate(128, 32, 1, seed: 21);
        using var labelled = TrainedRuns.PlainAndInverted(shapes);
        using var unlabelled = labelled.WithoutLabels("plain and inverted shapes, unlabelled");
        var options = new TrainOptions { Clusters = 2 };
        using var clustered = ImageClusters.Label(unlabelled, options, extractorSteps: 60)!;
        Assert.Equal(["cluster-01", "cluster-02"], clustered.ClassNames);
        var assigned = clustered.Labels!.data<long>().ToArray();
        var kinds = labelled.Labels!.data<long>().ToArray();
        int same = assigned.Zip(kinds).Count(p => p.First == p.Second);
        int agree = Math.Max(same, assigned.Length - same);
        Assert.True(agree >= 0.95 * assigned.Length, $"the clusters should be the two kinds; {agree} of {assigned.Length} images agree");
        using (var again = ImageClusters.Label(unlabelled, options, extractorSteps: 60)!)
            Assert.Equal(assigned, again.Labels!.data<long>().ToArray());

        Assert.Null(ImageClusters.Label(labelled, options));
        Assert.Null(ImageClusters.Label(unlabelled, new TrainOptions()));
        Assert.Contains("must be 0 (off) or 2..100", Assert.Throws<ArgumentException>(() => new TrainOptions { Clusters = 1 }.Validate(ModelKind.Dcgan)).Message);
        Assert.Contains("conditional false ignores classes",
            Assert.Throws<ArgumentException>(() => new TrainOptions { Clusters = 2, Conditional = false }.Validate(ModelKind.Vae)).Message);
        using var few = unlabelled.Select(torch.arange(3), "three images");
        Assert.Contains("fewer than the clusters", Assert.Throws<ArgumentException>(() => ImageClusters.Label(few, new TrainOptions { Clusters = 4 })).Message);
    }

    /// <summary>
    /// A second set of images labelled by the clusters of the first (a warm start across dataset versions) keeps their names
    /// and meaning: the first set gets its own clusters back, new plain shapes join the plain shapes' cluster, and images
    /// that leave a cluster empty are refused with the cluster's name.
    /// </summary>
    [Fact]
    public void Clusters_carry_over_to_new_images_by_their_nearest_centre()
    {
        TestImages.EnsureRuntime();
        using var shapes = SyntheticShapes.Generate(128, 32, 1, seed: 21);
        using var labelled = TrainedRuns.PlainAndInverted(shapes);
        using var unlabelled = labelled.WithoutLabels("the first drop");
        using var extractor = FeatureExtractor.TrainSelfSupervised(unlabelled, steps: 60);
        using var clustered = ImageClusters.Label(unlabelled, 2, extractor);
        var assigned = clustered.Labels!.data<long>().ToArray();

        using (var again = ImageClusters.LabelLike(unlabelled, clustered, extractor, out string? none)!)
        {
            Assert.Null(none);
            Assert.Equal(assigned, again.Labels!.data<long>().ToArray());
            Assert.Equal(clustered.ClassNames, again.ClassNames);
        }

        // The cluster most of the first drop's plain shapes (kind 0) fell in.
        var kinds = labelled.Labels!.data<long>().ToArray();
        long plainCluster = assigned.Where((_, i) => kinds[i] == 0).GroupBy(c => c).MaxBy(g => g.Count())!.Key;
        using var newShapes = SyntheticShapes.Generate(64, 32, 1, seed: 22);
        using var newLabelled = TrainedRuns.PlainAndInverted(newShapes);
        using var newUnlabelled = newLabelled.WithoutLabels("the second drop");
        using var carried = ImageClusters.LabelLike(newUnlabelled, clustered, extractor, out _)!;
        var newKinds = newLabelled.Labels!.data<long>().ToArray();
        int agree = carried.Labels!.data<long>().ToArray().Where((c, i) => (c == plainCluster) == (newKinds[i] == 0)).Count();
        Assert.True(agree >= 0.95 * newKinds.Length, $"new plain shapes should join the plain cluster and inverted the other; {agree} of {newKinds.Length} do");

        using var plainOnly = newUnlabelled.Select(torch.tensor(Enumerable.Range(0, newKinds.Length).Where(i => newKinds[i] == 0).Select(i => (long)i).ToArray()), "plain shapes only");
        Assert.Null(ImageClusters.LabelLike(plainOnly, clustered, extractor, out string? whyNot));
        Assert.Contains($"leave {clustered.ClassNames[1 - (int)plainCluster]} of the 2 clusters", whyNot);
        Assert.Throws<ArgumentException>(() => ImageClusters.LabelLike(newUnlabelled, unlabelled, extractor, out _));

        // Features already made give the same labels, and features of other images are refused.
        using var features = extractor.Extract(unlabelled);
        using (var fromFeatures = ImageClusters.Label(unlabelled, 2, features))
            Assert.Equal(assigned, fromFeatures.Labels!.data<long>().ToArray());
        using (var carriedFromFeatures = ImageClusters.LabelLike(newUnlabelled, clustered, extractor, out _, features)!)
            Assert.Equal(carried.Labels!.data<long>().ToArray(), carriedFromFeatures.Labels!.data<long>().ToArray());
        using var newFeatures = extractor.Extract(newUnlabelled);
        Assert.Contains("but the features given are [64, ", Assert.Throws<ArgumentException>(() => ImageClusters.Label(unlabelled, 2, newFeatures)).Message);
        Assert.Throws<ArgumentException>(() => ImageClusters.LabelLike(newUnlabelled, clustered, extractor, out _, newFeatures));
    }

    /// <summary>
    /// Images with identical features leave k-means clusters empty: those are dropped, so every class has images, and
    /// images that all look alike are refused, naming the option.
    /// </summary>
    [Fact]
    public void Clusters_that_come_out_empty_are_dropped_and_alike_images_are_refused()
    {
        TestImages.EnsureRuntime();
        using var shapes = SyntheticShapes.Generate(4, 32, 1, seed: 5);
        // Two distinct images, each eight times over.
        using var twoKinds = shapes.Select(torch.tensor(Enumerable.Range(0, 16).Select(i => (long)(i % 2)).ToArray()), "two images, repeated");
        using var extractor = FeatureExtractor.TrainSelfSupervised(shapes, steps: 5);
        using var clustered = ImageClusters.Label(twoKinds, 4, extractor);
        Assert.Equal(["cluster-01", "cluster-02"], clustered.ClassNames);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => i % 2 == 0 ? clustered.Labels![0].item<long>() : clustered.Labels![1].item<long>()),
            clustered.Labels!.data<long>().ToArray());
        using var oneKind = shapes.Select(torch.zeros(8, dtype: ScalarType.Int64), "one image, repeated");
        Assert.Contains("clusters 3: the 8 images do not make two clusters", Assert.Throws<ArgumentException>(() => ImageClusters.Label(oneKind, 3, extractor)).Message);
    }

    [Fact]
    public void Frechet_distance_is_near_zero_for_two_samples_of_one_gaussian_and_matches_the_closed_form_otherwise()
    {
        TestImages.EnsureRuntime();
        using var a = Gaussian(4000, 8, 1);
        using var b = Gaussian(4000, 8, 2);
        using var shifted = Gaussian(4000, 8, 3, shift: 1.0);
        using var wide = Gaussian(4000, 8, 4, scale: 2.0);
        Assert.InRange(FrechetDistance.Between(a, b), 0, 0.1);
        // N(0, I) against N(1, I): |mu gap|^2 = d = 8. Against N(0, 4I): Tr(I + 4I - 2 * 2I) = d = 8.
        Assert.InRange(FrechetDistance.Between(a, shifted), 7.5, 8.5);
        Assert.InRange(FrechetDistance.Between(a, wide), 7.3, 8.7);
        Assert.Equal(FrechetDistance.Between(a, shifted), FrechetDistance.Between(GaussianFit.Of(a), GaussianFit.Of(shifted)), 9);
    }

    [Fact]
    public void Kid_is_about_zero_for_one_distribution_and_grows_with_the_gap()
    {
        TestImages.EnsureRuntime();
        using var a = Gaussian(1000, 16, 1);
        using var b = Gaussian(1000, 16, 2);
        using var near = Gaussian(1000, 16, 3, shift: 0.3);
        using var far = Gaussian(1000, 16, 4, shift: 1.0);
        var same = KernelDistance.Between(a, b, subsets: 20, subsetSize: 500);
        var small = KernelDistance.Between(a, near, subsets: 20, subsetSize: 500);
        var large = KernelDistance.Between(a, far, subsets: 20, subsetSize: 500);
        Assert.InRange(same.Mean, -3 * same.StandardDeviation - 1e-3, 3 * same.StandardDeviation + 1e-3);
        Assert.True(small.Mean > same.Mean + 3 * same.StandardDeviation, $"small gap {small.Mean} vs same {same.Mean} ± {same.StandardDeviation}");
        Assert.True(large.Mean > 3 * small.Mean, $"large gap {large.Mean} vs small {small.Mean}");
    }

    [Fact]
    public void Precision_and_recall_tell_mode_collapse_from_poor_fidelity()
    {
        TestImages.EnsureRuntime();
        using var real = Gaussian(2000, 4, 1);
        using var good = Gaussian(2000, 4, 2);
        using var collapsed = Gaussian(2000, 4, 3, scale: 0.05); // every sample near the mode
        using var offManifold = Gaussian(2000, 4, 4, shift: 6.0);

        var fair = PrecisionRecall.Between(real, good);
        var collapse = PrecisionRecall.Between(real, collapsed);
        var off = PrecisionRecall.Between(real, offManifold);
        Assert.True(fair.Precision > 0.7 && fair.Recall > 0.7, $"same distribution: {fair}");
        Assert.True(collapse.Precision > 0.95 && collapse.Recall < 0.2, $"mode collapse: {collapse}");
        Assert.True(off.Precision < 0.05 && off.Recall < 0.05, $"off the data: {off}");
    }

    [Fact]
    public void Memorization_flags_near_copies_of_training_points_and_not_fresh_samples()
    {
        TestImages.EnsureRuntime();
        using var training = Gaussian(1000, 8, 1);
        using var fresh = Gaussian(500, 8, 2);
        using var noise = Gaussian(500, 8, 3, scale: 0.01);
        using var copies = training[..500] + noise;

        var model = Memorization.Of(training, fresh);
        var copier = Memorization.Of(training, copies);
        Assert.True(copier.NearCopyShare > 0.99, $"copies: {copier}");
        Assert.True(model.NearCopyShare < 0.2, $"fresh samples: {model}");
        Assert.True(model.MedianRatio > 5 * copier.MedianRatio, $"ratios {model.MedianRatio} vs {copier.MedianRatio}");
    }

    [Fact]
    public void Memorization_flags_copies_of_an_image_the_training_set_holds_twice()
    {
        TestImages.EnsureRuntime();
        // 128 features far from the origin, as the extractor's are: a matrix-product distance from a row to itself is
        // then rounding noise well above 0, which a fixed threshold would take for a neighbour.
        using var distinct = Gaussian(1000, 128, 1, shift: 5.0);
        // The first 100 images appear twice (a re-upload): each one's nearest training row is its repeat, at distance 0.
        using var training = torch.cat([distinct, distinct[..100]], 0);
        using var noise = Gaussian(100, 128, 3, scale: 0.01);
        using var copies = distinct[..100] + noise;
        using var fresh = Gaussian(500, 128, 2, shift: 5.0);

        var copier = Memorization.Of(training, copies);
        Assert.True(copier.NearCopyShare > 0.99, $"copies of repeated images: {copier}");
        Assert.True(Memorization.Of(training, fresh).NearCopyShare < 0.2, "fresh samples stay fresh when the training set has repeats");
        // An image with no distinct neighbour at all: anything near it is a copy.
        using var one = distinct[..1].repeat(5, 1);
        Assert.Equal(1.0, Memorization.Of(one, copies[..1]).NearCopyShare);
    }

    /// <summary>Labelled toy images: class c lights quadrant c of a dark 32x32 image, with pixel noise.</summary>
    private static (ImageTensorDataset images, Tensor labels) Quadrants(int count, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[count * 32 * 32];
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            int c = random.Next(4);
            labels[i] = c;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    bool lit = (y < 16 ? 0 : 2) + (x < 16 ? 0 : 1) == c;
                    pixels[i * 1024 + y * 32 + x] = (byte)Math.Clamp((lit ? 200 : 40) + random.Next(-40, 41), 0, 255);
                }
        }
        return (new ImageTensorDataset(torch.tensor(pixels, [count, 1, 32, 32], ScalarType.Byte), $"quadrants {count}"), torch.tensor(labels));
    }

    [Fact]
    public void The_feature_extractor_learns_its_labels_and_round_trips_through_its_file_with_a_stable_id()
    {
        TestImages.EnsureRuntime();
        using var folder = new TempFolder();
        var (train, trainLabels) = Quadrants(512, 1);
        var (test, testLabels) = Quadrants(256, 2);
        using (train) using (trainLabels) using (test) using (testLabels)
        {
            using var extractor = FeatureExtractor.Train(train, trainLabels, test, testLabels, epochs: 2);
            Assert.True(extractor.Info.TestAccuracy > 0.9, $"test accuracy {extractor.Info.TestAccuracy}");
            string path = folder.File("extractor.bin");
            extractor.Save(path);
            using var loaded = FeatureExtractor.Load(path);
            using var again = FeatureExtractor.Load(path);
            Assert.Equal(16, loaded.Info.Id.Length);
            Assert.Equal(loaded.Info.Id, again.Info.Id);
            Assert.Equal(extractor.Info.TestAccuracy, loaded.Info.TestAccuracy);
            using var original = extractor.Extract(test);
            using var reloaded = loaded.Extract(test);
            Assert.Equal([256L, FeatureClassifier.FeatureSize], reloaded.shape);
            Assert.True(original.allclose(reloaded), "the reloaded extractor gives other features");

            // In its feature space, held-out images of the same classes score near 0; images of one class score worse.
            using var trainFeatures = extractor.Extract(train);
            var oneClass = torch.nonzero(testLabels.eq(0)).squeeze(1);
            using var oneClassFeatures = original[oneClass];
            double same = FrechetDistance.Between(trainFeatures, original);
            double collapsed = FrechetDistance.Between(trainFeatures, oneClassFeatures);
            Assert.True(collapsed > 5 * same, $"FD of one class {collapsed} vs held-out {same}");
            Assert.True(PrecisionRecall.Between(trainFeatures, oneClassFeatures).Recall < 0.5);
        }
    }

    [Fact]
    public void A_self_supervised_extractor_learned_without_labels_ranks_a_collapsed_set_and_noise_below_held_out_images()
    {
        TestImages.EnsureRuntime();
        using var folder = new TempFolder();
        var (train, trainLabels) = Quadrants(512, 1);
        var (test, testLabels) = Quadrants(256, 2);
        using (train) using (trainLabels) using (test) using (testLabels)
        {
            using var extractor = FeatureExtractor.TrainSelfSupervised(train, steps: 100, seed: 1);
            Assert.Equal(ExtractorInfo.ContrastiveKind, extractor.Info.Kind);
            string path = folder.File("extractor.bin");
            extractor.Save(path);
            using var loaded = FeatureExtractor.Load(path);
            Assert.Equal(ExtractorInfo.ContrastiveKind, loaded.Info.Kind);
            Assert.Equal(100, loaded.Info.Steps);

            using var reference = QualityReference.Compute(loaded, train);
            using var heldOut = loaded.Extract(test);
            using var oneClass = heldOut[torch.nonzero(testLabels.eq(0)).squeeze(1)];
            using var noisePixels = torch.randint(0, 256, [256, 1, 32, 32], dtype: ScalarType.Byte, generator: new torch.Generator(5));
            using var noise = new ImageTensorDataset(noisePixels.clone(), "noise");
            using var noiseFeatures = loaded.Extract(noise);
            var same = QualityScoring.From(loaded.Info, reference, heldOut);
            var collapsed = QualityScoring.From(loaded.Info, reference, oneClass);
            var random = QualityScoring.From(loaded.Info, reference, noiseFeatures);
            Assert.True(collapsed.Fd > 3 * same.Fd, $"FD of one class {collapsed.Fd} vs held-out {same.Fd}");
            Assert.True(random.Fd > 3 * same.Fd, $"FD of noise {random.Fd} vs held-out {same.Fd}");
            Assert.True(collapsed.Recall < same.Recall, $"recall of one class {collapsed.Recall} vs held-out {same.Recall}");
            Assert.True(random.Precision < same.Precision, $"precision of noise {random.Precision} vs held-out {same.Precision}");
        }
    }

    [Fact]
    public void A_quality_reference_round_trips_and_refuses_another_extractors_file_or_a_truncated_one()
    {
        TestImages.EnsureRuntime();
        using var folder = new TempFolder();
        var (train, labels) = Quadrants(64, 3);
        using (train) using (labels)
        {
            using var extractor = FeatureExtractor.TrainSelfSupervised(train, steps: 2, seed: 1);
            extractor.Save(folder.File("extractor.bin"));
            using var loadedExtractor = FeatureExtractor.Load(folder.File("extractor.bin"));
            using var reference = QualityReference.Compute(loadedExtractor, train, maxReference: 40);
            Assert.Equal([64L, FeatureClassifier.FeatureSize], reference.Training.shape);
            Assert.Equal([40L, FeatureClassifier.FeatureSize], reference.Reference.shape);
            string path = folder.File("reference.bin");
            reference.Save(path);
            using var loaded = QualityReference.Load(path, loadedExtractor.Info.Id);
            Assert.True(loaded.Training.allclose(reference.Training) && loaded.Reference.allclose(reference.Reference));
            Assert.Equal(reference.ReferenceFit.Mean, loaded.ReferenceFit.Mean);

            Assert.Null(loaded.Unseen);

            // Unseen images give the near-copy baseline: the memorization test on them, kept in the file.
            var (unseen, unseenLabels) = Quadrants(30, 4);
            using (unseen) using (unseenLabels)
            {
                using var withBaseline = QualityReference.Compute(loadedExtractor, train, maxReference: 40, unseen: unseen);
                using var trainFeatures = loadedExtractor.Extract(train);
                using var unseenFeatures = loadedExtractor.Extract(unseen);
                var byHand = Memorization.Of(trainFeatures, unseenFeatures);
                Assert.Equal(new UnseenBaseline(30, byHand.NearCopyShare, byHand.MedianRatio), withBaseline.Unseen);
                withBaseline.Save(folder.File("baseline.bin"));
                using var loadedBaseline = QualityReference.Load(folder.File("baseline.bin"), loadedExtractor.Info.Id);
                Assert.Equal(withBaseline.Unseen, loadedBaseline.Unseen);
                var scores = QualityScoring.From(loadedExtractor.Info, loadedBaseline, unseenFeatures);
                Assert.Equal((30, byHand.NearCopyShare), (scores.UnseenImages, scores.UnseenNearCopyShare));
                // Generated images whose features are not finite have no score, so no gate compares one.
                using var broken = unseenFeatures.clone();
                broken[3, 2] = torch.tensor(float.NaN);
                var refused = Assert.Throws<NonFiniteSamplesException>(() => QualityScoring.From(loadedExtractor.Info, loadedBaseline, broken));
                Assert.StartsWith("1 of 30 generated images have features that are not finite numbers", refused.Message);
            }
            // A file of an older format (its magic ends in 2: a baseline from the copy test before repeats were told apart)
            // is not read, so it is computed again; the stored name carries the format.
            var bytes = File.ReadAllBytes(path);
            int magicEnd = 1 + "imagegen-quality-reference-3".Length;
            bytes[magicEnd - 1] = (byte)'2';
            File.WriteAllBytes(folder.File("v2.bin"), bytes);
            var older = Assert.Throws<InvalidDataException>(() => QualityReference.Load(folder.File("v2.bin"), loadedExtractor.Info.Id));
            Assert.Contains("not a quality reference file of format 3", older.Message);
            Assert.Equal(QualityReference.Format, ImageGen.Pipeline.Storage.StorageLayout.QualityReferenceFormat);
            Assert.EndsWith($"/quality/reference-{QualityReference.Format}.bin", ImageGen.Pipeline.Storage.StorageLayout.QualityReference("d", "v0001"));
            File.WriteAllBytes(folder.File("nobaseline.bin"), File.ReadAllBytes(path)[..^20]);
            var short_ = Assert.Throws<InvalidDataException>(() => QualityReference.Load(folder.File("nobaseline.bin"), loadedExtractor.Info.Id));
            Assert.Contains("is cut short", short_.Message);

            var other = Assert.Throws<InvalidDataException>(() => QualityReference.Load(path, "0123456789abcdef"));
            Assert.Contains("0123456789abcdef", other.Message);
            File.WriteAllBytes(folder.File("cut.bin"), File.ReadAllBytes(path)[..200]);
            var cut = Assert.Throws<InvalidDataException>(() => QualityReference.Load(folder.File("cut.bin"), loadedExtractor.Info.Id));
            Assert.Contains("more than the file holds", cut.Message);
        }
    }
}
