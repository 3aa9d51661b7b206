using System.Text.Json;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Tests;

[Collection(TrainedRunsCollection.Name)]
public class TrainingTests(TrainedRuns runs)
{
    private static List<EpochMetrics> Metrics(TrainResult run) => File.ReadAllLines(Path.Combine(run.RunFolder, "metrics.jsonl"))
        .Select(line => JsonSerializer.Deserialize<EpochMetrics>(line, Json.Options)!).ToList();

    [Fact]
    public void Gan_training_moves_its_losses_as_a_learning_gan_does_and_writes_its_outputs()
    {
        var metrics = Metrics(runs.Gan);
        Assert.Equal(TrainedRuns.GanSteps, runs.Gan.Steps);
        Assert.Equal(StopReason.MaxSteps, runs.Gan.StopReason);
        Assert.All(metrics, m => Assert.All(m.Means.Values, v => Assert.True(double.IsFinite(v))));
        var last = metrics[^1];
        // The discriminator tells real from fake: D(x) above D(G(z)), and its loss below chance (2 ln 2).
        Assert.True(last.Means["d_x"] > last.Means["d_g_z"], $"D(x) {last.Means["d_x"]} should exceed D(G(z)) {last.Means["d_g_z"]}");
        Assert.True(metrics.Min(m => m.Means["loss_d"]) < 2 * Math.Log(2));
        Assert.True(File.Exists(Path.Combine(runs.Gan.RunFolder, "samples", "real_samples.png")));
        Assert.True(File.Exists(Path.Combine(runs.Gan.RunFolder, "samples", "fake_samples_epoch_001.png")));
        Assert.True(File.Exists(Path.Combine(runs.Gan.RunFolder, "checkpoints", "epoch_0001.ckpt")));
        Assert.True(File.Exists(Path.Combine(runs.Gan.RunFolder, "options.json")));
        var events = Directory.GetFiles(Path.Combine(runs.Gan.RunFolder, "tb"), "events.out.tfevents.*");
        Assert.Single(events);
        Assert.True(new FileInfo(events[0]).Length > 1000, "TensorBoard events should hold scalars and images");
    }

    [Fact]
    public void Trained_gan_samples_look_like_the_data_and_not_like_an_untrained_generator()
    {
        using var sampler = ImageSampler.Load(runs.Gan.RunFolder);
        using var samples = sampler.Generate(Seeds.Range(0, 128));
        torch.manual_seed(99);
        using var untrained = new DcganGenerator(runs.GanSpec);
        untrained.eval();
        using var z = GeneratorTensors.Latents(Seeds.Range(0, 128), runs.GanSpec.LatentSize);
        using var noGrad = torch.no_grad();
        using var untrainedSamples = untrained.forward(z);
        using var real = runs.HeldOut.Batch(torch.arange(128));
        // The shapes data is mostly dark background (mean far below 0); a fresh generator outputs values near 0.
        double realMean = real.mean().item<float>(), trainedMean = samples.mean().item<float>(), untrainedMean = untrainedSamples.mean().item<float>();
        Assert.True(Math.Abs(trainedMean - realMean) < 0.5 * Math.Abs(untrainedMean - realMean),
            $"mean pixel: real {realMean:0.00}, trained {trainedMean:0.00}, untrained {untrainedMean:0.00}");
        // Not noise: neighbouring pixels agree. For noise of the same spread, the mean |left - right| is about 1.13 standard deviations.
        double Roughness(Tensor t) => (t[.., .., .., 1..] - t[.., .., .., ..^1]).abs().mean().item<float>() / t.std().item<float>();
        Assert.True(Roughness(samples) < 0.6, $"samples' neighbour difference is {Roughness(samples):0.00} standard deviations (real data: {Roughness(real):0.00})");
        // Samples differ from one another (no collapse to a single image).
        Assert.True(samples.std(0).mean().item<float>() > 0.05);
    }

    [Fact]
    public void Vae_reconstruction_error_on_held_out_images_falls_far_below_its_start()
    {
        var options = new TrainOptions { MaxSteps = 1, BatchSize = 32, Seed = 5 };
        torch.manual_seed(5);
        using var fresh = (VaeTrainable)Trainables.Create(runs.VaeSpec, options);
        fresh.SetTraining(false);
        using var heldOut = runs.HeldOut.Batch(torch.arange(128));
        double before = fresh.ReconstructionError(heldOut);

        var (_, sections) = Checkpoint.Read(runs.Vae.CheckpointPath);
        using var trained = (VaeTrainable)Trainables.Create(runs.VaeSpec, options);
        trained.Load(sections);
        trained.SetTraining(false);
        double after = trained.ReconstructionError(heldOut);
        Assert.True(after < 0.3 * before, $"held-out reconstruction MSE went from {before:0.0000} to {after:0.0000}");
        Assert.True(File.Exists(Path.Combine(runs.Vae.RunFolder, "samples", "reconstruction_epoch_001.png")));
    }

    [Theory]
    [InlineData(ModelKind.Dcgan, OptimizerKind.Adam, LossKind.Bce)]
    [InlineData(ModelKind.Dcgan, OptimizerKind.Rmsprop, LossKind.Hinge)]
    [InlineData(ModelKind.Vae, OptimizerKind.Sgd, LossKind.Mse)]
    [InlineData(ModelKind.Dcgan, OptimizerKind.Adam, LossKind.Bce, true)]
    public void Straight_and_resumed_training_give_bit_identical_weights(ModelKind kind, OptimizerKind optimizer, LossKind loss, bool ada = false)
    {
        using var folder = new TempFolder();
        using var data = SyntheticShapes.Generate(96, 32, 1, seed: 3);
        var spec = ModelSpec.DefaultFor(kind) with { Ngf = 8, Ndf = 8, LatentSize = 8 };
        // 96 images at batch 16 = 6 steps per epoch: the halfway stop at step 9 falls mid-epoch.
        TrainRequest Request(string name, long maxSteps, bool resume) => new()
        {
            Data = data, Spec = spec, RunFolder = folder.File(name), Resume = resume,
            Options = new TrainOptions
            {
                MaxSteps = maxSteps, BatchSize = 16, Seed = 42, Optimizer = optimizer, Loss = loss, EmaImages = kind == ModelKind.Dcgan ? 100 : null, Ada = ada,
            },
        };
        var straight = Trainer.Run(Request("straight", 18, false));
        var half = Trainer.Run(Request("resumed", 9, false));
        Assert.Equal(9, half.Steps);
        var resumed = Trainer.Run(Request("resumed", 18, true));
        Assert.Equal(18, resumed.Steps);

        var (a, aSections) = Checkpoint.Read(straight.CheckpointPath);
        var (b, bSections) = Checkpoint.Read(resumed.CheckpointPath);
        Assert.Equal(a.Step, b.Step);
        Assert.Equal(aSections.Keys.Order(), bSections.Keys.Order());
        if (kind == ModelKind.Dcgan) Assert.Contains(CheckpointSections.GeneratorAverage, aSections.Keys); // the average resumes bit-exactly too
        Assert.Equal(kind == ModelKind.Vae, aSections.ContainsKey(CheckpointSections.LatentPrior)); // refitted at the save, to the same networks
        // ADA's probability and its partial sums too (the halfway stop at step 9 falls between two adjustments).
        Assert.Equal(ada, aSections.ContainsKey(CheckpointSections.AugmentProbability));
        foreach (var name in aSections.Keys)
            Assert.True(aSections[name].AsSpan().SequenceEqual(bSections[name]), $"section '{name}' differs between straight and resumed runs");

        // And the resumed run really moved on from the halfway checkpoint.
        var (_, halfSections) = Checkpoint.Read(Path.Combine(folder.File("resumed"), "checkpoints", "epoch_0001.ckpt"));
        Assert.False(halfSections[CheckpointSections.Generator].AsSpan().SequenceEqual(bSections[CheckpointSections.Generator]));
    }

    [Fact]
    public void Time_budget_and_cancellation_stop_training_and_leave_a_checkpoint()
    {
        using var folder = new TempFolder();
        using var data = SyntheticShapes.Generate(64, 32, 1, seed: 3);
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 };
        var budgeted = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = folder.File("budget"),
            Options = new TrainOptions { Epochs = 1_000_000, TimeBudget = TimeSpan.FromSeconds(2), BatchSize = 16, Seed = 1 },
        });
        Assert.Equal(StopReason.TimeBudget, budgeted.StopReason);
        Assert.InRange(budgeted.Steps, 1, 100_000);
        Assert.Equal(budgeted.Steps, Checkpoint.ReadHeader(budgeted.CheckpointPath).Step);

        using var cancel = new CancellationTokenSource();
        var progressSeen = new List<long>();
        var cancelled = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = folder.File("cancel"),
            Options = new TrainOptions { Epochs = 1_000_000, BatchSize = 16, Seed = 1 },
        }, new SyncProgress(p => { progressSeen.Add(p.Step); if (p.Step == 7) cancel.Cancel(); }), cancel.Token);
        Assert.Equal(StopReason.Cancelled, cancelled.StopReason);
        Assert.Equal(7, cancelled.Steps);
        Assert.Equal(7, Checkpoint.ReadHeader(cancelled.CheckpointPath).Step);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), progressSeen.Distinct());
    }

    [Fact]
    public void Resuming_with_a_different_model_shape_is_refused_with_both_shapes_named()
    {
        var spec = runs.GanSpec with { Ngf = 32 };
        var e = Assert.Throws<ArgumentException>(() => Trainer.Run(new TrainRequest
        {
            Data = runs.Data, Spec = spec, RunFolder = runs.Gan.RunFolder, Resume = true,
            Options = new TrainOptions { MaxSteps = TrainedRuns.GanSteps + 1 },
        }));
        Assert.Contains("ngf=16", e.Message);
        Assert.Contains("ngf=32", e.Message);
    }

    [Theory]
    [InlineData(ModelKind.Dcgan, LossKind.Mse, "mse")]
    [InlineData(ModelKind.Vae, LossKind.Hinge, "hinge")]
    public void Options_refuse_a_loss_of_the_other_model_family(ModelKind kind, LossKind loss, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => new TrainOptions { Loss = loss }.Validate(kind));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_moving_average_is_refused_for_a_vae_and_a_negative_half_life_for_anyone()
    {
        var vae = Assert.Throws<ArgumentException>(() => new TrainOptions { EmaImages = 1000 }.Validate(ModelKind.Vae));
        Assert.Equal("ema 1000: a moving average is kept for GAN generators only; a VAE takes 0", vae.Message);
        Assert.Throws<ArgumentException>(() => new TrainOptions { EmaImages = -1 }.Validate(ModelKind.Dcgan));
        new TrainOptions { EmaImages = 0 }.Validate(ModelKind.Vae);
    }

    /// <summary>
    /// Training runs on TorchRuntime.TrainingDevice (CUDA where libtorch sees it), but its random draws are made on the CPU
    /// and must follow the images to their device, or the first augmented step on a GPU fails with "Expected all
    /// tensors to be on the same device". No GPU here, so libtorch's meta device (shapes only, no data) stands in for
    /// "not the CPU": it refuses a CPU operand just as CUDA does. What reads values back (a step's losses) cannot run
    /// on meta, nor do convolutions, so the steps themselves, the moving average and the VAE stay unchecked without a GPU.
    /// </summary>
    [Fact]
    public void Augmentations_keep_their_random_draws_on_the_images_device()
    {
        TestImages.EnsureRuntime();
        using var scope = torch.NewDisposeScope();
        var images = torch.zeros([4, 3, 16, 16], device: torch.META);
        // Colour and translation at probability 1 only: the rest (per-image choice below 1, the x-flip, cutout) use
        // operators libtorch has no meta kernel for (where, logical_not).
        foreach (var policy in new[] { Augmentations.Color, Augmentations.Translation, Augmentations.Color | Augmentations.Translation })
        {
            var augmented = DiffAugment.Apply(images, policy);
            Assert.Equal(DeviceType.META, augmented.device_type);
            Assert.Equal(images.shape, augmented.shape);
        }
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
public sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
