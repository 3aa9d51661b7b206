using System.Diagnostics;
using System.Text.Json;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>A snapshot for progress bars and orchestration status. Losses are the current epoch's running means.</summary>
public sealed record TrainingProgress
{
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public long? TotalSteps { get; init; }
    public required IReadOnlyDictionary<string, double> Losses { get; init; }
    public double ImagesPerSecond { get; init; }
    public TimeSpan Elapsed { get; init; }
    public TimeSpan? Eta { get; init; }
    /// <summary>Set when an epoch's sample grid was just written.</summary>
    public string? SampleGrid { get; init; }
}

public sealed record EpochMetrics
{
    public int Epoch { get; init; }
    public long Step { get; init; }
    /// <summary>False for a partial epoch cut short by a stop condition.</summary>
    public bool Complete { get; init; }
    public Dictionary<string, double> Means { get; init; } = [];
    public double ImagesPerSecond { get; init; }
    public double Seconds { get; init; }
}

/// <summary>One line of steps.jsonl: the step's own losses every LogEverySteps steps, for loss curves finer than an epoch.</summary>
public sealed record StepMetrics
{
    public const string FileName = "steps.jsonl";
    public long Step { get; init; }
    /// <summary>Seconds since this invocation of the trainer started (a resumed run starts again from 0).</summary>
    public double Seconds { get; init; }
    public Dictionary<string, double> Losses { get; init; } = [];

    /// <summary>
    /// Drops lines past a step: a fresh run (step 0) starts an empty log, and a resumed one forgets what a previous
    /// invocation logged after its last checkpoint, so every step is logged once.
    /// </summary>
    public static void KeepUpTo(string runFolder, long step)
    {
        string path = Path.Combine(runFolder, FileName);
        if (!File.Exists(path)) return;
        File.WriteAllLines(path, Read(runFolder).Where(l => l.Step <= step).Select(l => JsonSerializer.Serialize(l, Json.Compact)));
    }

    public static List<StepMetrics> Read(string runFolder)
    {
        string path = Path.Combine(runFolder, FileName);
        return File.Exists(path)
            ? File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<StepMetrics>(l, Json.Options)!).ToList()
            : [];
    }
}

public sealed record TrainResult(
    string RunFolder, string CheckpointPath, long Steps, int EpochsCompleted, StopReason StopReason, EpochMetrics? LastMetrics, int Seed)
{
    /// <summary>Set when StopReason is Diverged: which step's loss was not finite, and what was kept.</summary>
    public string? Divergence { get; init; }
}

public sealed record TrainRequest
{
    public required ImageTensorDataset Data { get; init; }
    public required ModelSpec Spec { get; init; }
    public TrainOptions Options { get; init; } = new();
    public required string RunFolder { get; init; }
    /// <summary>Continue from RunFolder/checkpoint.ckpt when it exists.</summary>
    public bool Resume { get; init; }
    /// <summary>
    /// A fresh run starts from this checkpoint's networks (generator, its average, discriminator or encoder) instead of
    /// random weights; its optimizers start fresh. The spec must match. Ignored when resuming.
    /// </summary>
    public string? InitFrom { get; init; }
    /// <summary>What InitFrom is, for the checkpoint header (a published version: dataset/v0003).</summary>
    public string? InitFromName { get; init; }
    /// <summary>How the run started, in words, kept in its checkpoints ("warm start from ...", "fresh start: ...").</summary>
    public string? StartNote { get; init; }
    /// <summary>Where the data's classes were found as clusters, for the checkpoint header (CheckpointHeader.ClustersFrom). Ignored when resuming.</summary>
    public string? ClustersFrom { get; init; }
}

/// <summary>
/// The training loop shared by GANs and VAEs, in the shape of pytorch/examples: per epoch a fixed-noise grid,
/// a checkpoint and a metrics line; stops at the first of epochs, max steps, time budget or cancellation,
/// always leaving a checkpoint to resume from. Run folder: options.json, metrics.jsonl, steps.jsonl, checkpoint.ckpt,
/// checkpoints/epoch_NNNN.ckpt, samples/*.png and tb/ (TensorBoard events).
/// </summary>
public static class Trainer
{
    public static TrainResult Run(TrainRequest request, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var data = request.Data;
        string runFolder = request.RunFolder;
        string checkpointPath = Path.Combine(runFolder, Checkpoint.FileName);
        var options = request.Options;
        var spec = WithClasses(request.Spec, options, data);
        CheckpointHeader? resumeFrom = null;
        Dictionary<string, byte[]>? resumeSections = null;
        if (request.Resume && File.Exists(checkpointPath))
        {
            (resumeFrom, resumeSections) = Checkpoint.Read(checkpointPath);
            // A conditional VAE from before the conditional encoder resumes with the encoder it has (q(z | x)).
            if (spec.ConditionalEncoder && resumeFrom.Spec == spec with { ConditionalEncoder = false }) spec = resumeFrom.Spec;
            if (resumeFrom.Spec != spec)
                throw new ArgumentException($"cannot resume: the checkpoint was trained as {Describe(resumeFrom.Spec)}, but {Describe(spec)} was asked for");
            if (spec.Classes > 0 && !resumeFrom.Classes.SequenceEqual(data.ClassNames))
                throw new ArgumentException($"cannot resume: the checkpoint's classes ({string.Join(", ", resumeFrom.Classes)}) are not the data's ({string.Join(", ", data.ClassNames)})");
            // The run keeps its recipe; the new request may move the stop conditions. A checkpoint from before a default
            // was pinned (unset there) keeps what it trained with then: no moving average unless saved, no augmentation, no
            // fitted prior (and so beta 1, the default without one).
            options = resumeFrom.Options with
            {
                Epochs = options.Epochs, MaxSteps = options.MaxSteps, TimeBudget = options.TimeBudget,
                EmaImages = resumeFrom.Options.EmaImages ?? (resumeSections!.ContainsKey(CheckpointSections.GeneratorAverage) ? resumeFrom.Options.ResolvedEmaImages(spec.Kind) : 0),
                Augment = resumeFrom.Options.Augment ?? Augmentations.None,
                FitPrior = resumeFrom.Options.FitPrior ?? false,
            };
        }
        spec.Validate();
        options.Validate(spec.Kind);
        if (data.ImageSize != spec.ImageSize || data.Channels != spec.Channels)
            throw new ArgumentException($"data is {data.Channels}x{data.ImageSize}x{data.ImageSize} " +
                                        $"but the model expects {spec.Channels}x{spec.ImageSize}x{spec.ImageSize}");
        int seed = resumeFrom?.Seed ?? options.Seed ?? Random.Shared.Next(1, 10001);
        // Defaults are pinned in the run's options, so a later change of a family's default never changes a run on resume.
        options = options with
        {
            Seed = seed, EmaImages = options.ResolvedEmaImages(spec.Kind), Augment = options.ResolvedAugment(spec.Kind), KlWeight = options.ResolvedKlWeight(spec),
            FitPrior = options.ResolvedFitPrior(spec.Kind),
        };

        torch.manual_seed(seed);
        var device = TorchRuntime.TrainingDevice;
        using var model = Trainables.Create(spec, options, data, device);
        long step = 0;
        int epochsDone = 0, startStepInEpoch = 0;
        string? warmStartedFrom = resumeFrom?.WarmStartedFrom;
        if (resumeFrom is null && request.InitFrom is { } initFrom)
        {
            InitialiseFrom(model, initFrom, spec, data);
            warmStartedFrom = request.InitFromName ?? initFrom;
        }
        if (resumeFrom is not null)
        {
            model.Load(resumeSections!);
            Checkpoint.RestoreRng(resumeSections!.TryGetValue(CheckpointSections.Rng, out var rng) ? rng
                : throw new InvalidDataException($"checkpoint has no '{CheckpointSections.Rng}' section to resume from"));
            step = resumeFrom.Step;
            epochsDone = resumeFrom.Epoch;
            startStepInEpoch = resumeFrom.StepInEpoch;
        }

        var run = new RunIdentity(spec, options, seed, spec.Classes > 0 ? data.ClassNames : [], ClassSizesOf(spec, data, resumeFrom), warmStartedFrom, resumeFrom?.StartNote ?? request.StartNote,
            resumeFrom is null ? request.ClustersFrom : resumeFrom.ClustersFrom);
        string samplesFolder = Path.Combine(runFolder, "samples");
        Directory.CreateDirectory(samplesFolder);
        Directory.CreateDirectory(Path.Combine(runFolder, "checkpoints"));
        WriteRunOptions(runFolder, spec, options, data, resumeFrom is not null);
        StepMetrics.KeepUpTo(runFolder, step);
        if (resumeFrom is null) File.Delete(Path.Combine(runFolder, "metrics.jsonl")); // a fresh run in a used folder starts its own log

        var plan = TrainingPlan.For(spec, options, data.Count);
        int batchSize = plan.BatchSize, stepsPerEpoch = plan.StepsPerEpoch, epochs = plan.Epochs;

        using var fixedInputsOnCpu = FixedInputs(spec, seed, options.SampleCount);
        using var fixedNoise = fixedInputsOnCpu.to(device);
        using var previewIndices = torch.arange(Math.Min(options.SampleCount, data.Count));
        using var previewOnCpu = data.Batch(previewIndices);
        using var previewInputs = previewOnCpu.to(device);
        if (resumeFrom is null) TensorImages.SaveGridPng(previewInputs, Path.Combine(samplesFolder, "real_samples.png"));

        var tensorboard = torch.utils.tensorboard.SummaryWriter(Path.Combine(runFolder, "tb"));
        var clock = Stopwatch.StartNew();
        var epochClock = new Stopwatch();
        var sums = new MetricSums();
        EpochMetrics? lastMetrics = null;
        var stopReason = StopReason.Epochs;
        long stepsThisSession = 0;
        long savedStep = resumeFrom?.Step ?? -1; // the step of the checkpoint on disk (-1: none yet)

        for (int epoch = epochsDone + 1; epoch <= epochs; epoch++)
        {
            using var permutation = EpochPermutation(seed, epoch, data.Count);
            sums.Clear();
            epochClock.Restart();
            StopReason? stop = null;
            for (int i = startStepInEpoch; i < stepsPerEpoch; i++)
            {
                stop = ShouldStop(step, options, clock.Elapsed, cancellationToken);
                if (stop is not null)
                {
                    string? grid = null;
                    if (sums.Steps > 0) // a partial epoch gets its own metrics line and grid
                        lastMetrics = EndEpoch(model, runFolder, epoch, step, sums, epochClock, batchSize, complete: false,
                            fixedNoise, previewInputs, tensorboard, $"step_{step:D7}", out grid);
                    SaveCheckpoint(model, checkpointPath, null, run, step, epoch - 1, i);
                    savedStep = step;
                    progress?.Report(Snapshot(plan, epoch, step, sums, stepsThisSession, clock.Elapsed) with { SampleGrid = grid });
                    return new TrainResult(runFolder, checkpointPath, step, epoch - 1, stop.Value, lastMetrics, seed);
                }
                using (var scope = torch.NewDisposeScope())
                {
                    var indices = permutation[(i * batchSize)..((i + 1) * batchSize)];
                    var batch = data.Batch(indices).to(device); // the data stays on the CPU; each batch goes to the device
                    var scalars = model.Step(batch, spec.Classes > 0 ? data.BatchLabels(indices)!.to(device) : null);
                    if (scalars.FirstOrDefault(s => !double.IsFinite(s.Value)) is { Key: not null } bad)
                    {
                        // Nothing of this step is saved: the checkpoint on disk is the last good state, and no NaN
                        // reaches a metrics line, a status or a JSON serializer.
                        string kept = savedStep >= 0 ? $"the checkpoint at step {savedStep} is kept" : "no checkpoint had been written yet";
                        return new TrainResult(runFolder, checkpointPath, Math.Max(savedStep, 0), epochsDone, StopReason.Diverged, lastMetrics, seed)
                        {
                            Divergence = $"diverged at step {step + 1}: {bad.Key} is {bad.Value}; {kept}",
                        };
                    }
                    foreach (var (name, value) in scalars) sums.Add(name, value);
                    sums.EndStep();
                    step++;
                    stepsThisSession++;
                    if (step % options.LogEverySteps == 0)
                    {
                        foreach (var (name, value) in scalars) tensorboard.add_scalar($"step/{name}", (float)value, (int)step);
                        var line = new StepMetrics { Step = step, Seconds = clock.Elapsed.TotalSeconds, Losses = scalars };
                        File.AppendAllText(Path.Combine(runFolder, StepMetrics.FileName), JsonSerializer.Serialize(line, Json.Compact) + "\n");
                    }
                }
                progress?.Report(Snapshot(plan, epoch, step, sums, stepsThisSession, clock.Elapsed));
            }
            startStepInEpoch = 0;
            epochsDone = epoch;
            bool lastEpoch = epoch == epochs || (options.MaxSteps is { } max && step >= max);
            if (epoch % options.SampleEveryEpochs == 0 || lastEpoch)
            {
                lastMetrics = EndEpoch(model, runFolder, epoch, step, sums, epochClock, batchSize, complete: true,
                    fixedNoise, previewInputs, tensorboard, $"epoch_{epoch:D3}", out string grid);
                SaveCheckpoint(model, checkpointPath, Path.Combine(runFolder, "checkpoints", $"epoch_{epoch:D4}.ckpt"), run, step, epoch, 0);
                savedStep = step;
                progress?.Report(Snapshot(plan, epoch, step, sums, stepsThisSession, clock.Elapsed) with { SampleGrid = grid });
            }
            if (options.MaxSteps is { } maxSteps && step >= maxSteps) { stopReason = StopReason.MaxSteps; break; }
        }
        if (!File.Exists(checkpointPath) || epochsDone == 0)
            SaveCheckpoint(model, checkpointPath, null, run, step, epochsDone, 0);
        return new TrainResult(runFolder, checkpointPath, step, epochsDone, stopReason, lastMetrics, seed);
    }

    /// <summary>What every checkpoint of a run says about it.</summary>
    private sealed record RunIdentity(ModelSpec Spec, TrainOptions Options, int Seed, IReadOnlyList<string> Classes, IReadOnlyList<int> ClassSizes, string? WarmStartedFrom, string? StartNote, string? ClustersFrom);

    /// <summary>
    /// The spec with the data's classes where the run is class-conditional: by default when the data has classes,
    /// never with conditional false, and an error with conditional true on unlabelled data.
    /// </summary>
    public static ModelSpec WithClasses(ModelSpec spec, TrainOptions options, ImageTensorDataset data)
    {
        int classes = data.ClassNames.Count;
        if (options.Conditional == true && classes == 0)
            throw new ArgumentException($"conditional is true but the data has no classes: put each class's images in its own sub-folder (2 to {DatasetClasses.MaxClasses:N0} of them, every image in one), or name them in {DatasetClasses.LabelsJson}");
        int modelClasses = options.Conditional == false ? 0 : classes;
        return spec with { Classes = modelClasses, ConditionalEncoder = ModelFamily.For(spec.Kind).HasEncoder && modelClasses > 0 };
    }

    /// <summary>
    /// The training images per class that set how often samples draw each class: the data's, except that a resumed run
    /// keeps its checkpoint's (none in a checkpoint saved before they were recorded, whose samples keep uniform draws).
    /// </summary>
    private static IReadOnlyList<int> ClassSizesOf(ModelSpec spec, ImageTensorDataset data, CheckpointHeader? resumeFrom) =>
        spec.Classes == 0 ? [] : resumeFrom is not null ? resumeFrom.ClassSizes : data.ClassSizes();

    /// <summary>The grids' fixed inputs: the fixed noise, with classes in turn (0, 1, 2, ...) for a conditional model.</summary>
    public static Tensor FixedInputs(ModelSpec spec, int seed, int count)
    {
        using var noise = FixedNoise(seed, count, spec.LatentSize);
        return GeneratorTensors.Inputs(spec, noise, Enumerable.Range(0, count).Select(i => spec.Classes > 0 ? i % spec.Classes : 0).ToArray());
    }

    /// <summary>Loads a checkpoint's networks into a fresh model (warm start); its optimizer states and RNG are left out.</summary>
    private static void InitialiseFrom(ITrainable model, string path, ModelSpec spec, ImageTensorDataset data)
    {
        var (header, sections) = Checkpoint.Read(path);
        if (header.Spec != spec)
            throw new ArgumentException($"cannot start from '{path}': it was trained as {Describe(header.Spec)}, but {Describe(spec)} was asked for");
        if (spec.Classes > 0 && !header.Classes.SequenceEqual(data.ClassNames))
            throw new ArgumentException($"cannot start from '{path}': its classes ({string.Join(", ", header.Classes)}) are not the data's ({string.Join(", ", data.ClassNames)})");
        foreach (var part in model.Parts.Where(p => CheckpointSections.IsNetwork(p.Name)))
        {
            // A start without a moving average gives the new average the start's generator, not the fresh random one.
            if (sections.TryGetValue(part.Name, out var bytes)
                || (part.Name == CheckpointSections.GeneratorAverage && sections.TryGetValue(CheckpointSections.Generator, out bytes)))
                part.Load(bytes);
        }
    }

    /// <summary>The fixed noise batch of the per-epoch grids, drawn from its own generator so it never disturbs training.</summary>
    public static Tensor FixedNoise(int seed, int count, int latentSize)
    {
        using var generator = new torch.Generator((ulong)seed);
        return torch.randn([count, latentSize], generator: generator);
    }

    /// <summary>The data order of an epoch depends only on (seed, epoch), so a resumed run sees the same batches.</summary>
    private static Tensor EpochPermutation(int seed, int epoch, int count)
    {
        using var generator = new torch.Generator((ulong)seed * 1_000_003UL + (ulong)epoch);
        return torch.randperm(count, generator: generator);
    }

    private static StopReason? ShouldStop(long step, TrainOptions options, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return StopReason.Cancelled;
        if (options.MaxSteps is { } max && step >= max) return StopReason.MaxSteps;
        if (options.TimeBudget is { } budget && elapsed >= budget) return StopReason.TimeBudget;
        return null;
    }

    private static TrainingProgress Snapshot(TrainingPlan plan, int epoch, long step, MetricSums sums, long stepsThisSession, TimeSpan elapsed)
    {
        double stepsPerSecond = elapsed.TotalSeconds > 0 ? stepsThisSession / elapsed.TotalSeconds : 0;
        return new TrainingProgress
        {
            Epoch = epoch, Step = step, TotalSteps = plan.TotalSteps, Losses = sums.Means(),
            ImagesPerSecond = stepsPerSecond * plan.BatchSize, Elapsed = elapsed, Eta = plan.Eta(step, stepsPerSecond, elapsed),
        };
    }

    private static EpochMetrics EndEpoch(ITrainable model, string runFolder, int epoch, long step, MetricSums sums, Stopwatch epochClock,
        int batchSize, bool complete, Tensor fixedNoise, Tensor previewInputs, TorchSharp.Modules.SummaryWriter tensorboard, string suffix, out string gridPath)
    {
        double seconds = epochClock.Elapsed.TotalSeconds;
        var metrics = new EpochMetrics
        {
            Epoch = epoch, Step = step, Complete = complete, Means = sums.Means(),
            ImagesPerSecond = seconds > 0 ? sums.Steps * batchSize / seconds : 0, Seconds = seconds,
        };
        File.AppendAllText(Path.Combine(runFolder, "metrics.jsonl"), JsonSerializer.Serialize(metrics, Json.Compact) + "\n");
        foreach (var (name, value) in metrics.Means) tensorboard.add_scalar($"epoch/{name}", (float)value, (int)step);
        tensorboard.add_scalar("epoch/images_per_second", (float)metrics.ImagesPerSecond, (int)step);

        string samplesFolder = Path.Combine(runFolder, "samples");
        gridPath = Path.Combine(samplesFolder, $"fake_samples_{suffix}.png");
        model.SetTraining(false);
        try
        {
            using var inference = torch.inference_mode();
            using var scope = torch.NewDisposeScope();
            var fakes = model.Generate(fixedNoise);
            TensorImages.SaveGridPng(fakes, gridPath);
            tensorboard.add_img("samples", gridPath, (int)step);
            model.WriteExtraImages(previewInputs, samplesFolder, suffix);
        }
        finally { model.SetTraining(true); }
        return metrics;
    }

    private static void SaveCheckpoint(ITrainable model, string latestPath, string? epochPath, RunIdentity run,
        long step, int epochsCompleted, int stepInEpoch)
    {
        var header = new CheckpointHeader
        {
            Spec = run.Spec, Options = run.Options, Step = step, Epoch = epochsCompleted, StepInEpoch = stepInEpoch,
            Seed = run.Seed, SavedAt = DateTimeOffset.UtcNow, Classes = run.Classes, ClassSizes = run.ClassSizes, WarmStartedFrom = run.WarmStartedFrom, StartNote = run.StartNote, ClustersFrom = run.ClustersFrom,
        };
        var sections = model.Parts.Select(p => (p.Name, p.Write)).Append((CheckpointSections.Rng, Checkpoint.RngSection())).ToList();
        Checkpoint.Write(latestPath, header, sections);
        if (epochPath is not null) File.Copy(latestPath, epochPath, overwrite: true);
    }

    private static void WriteRunOptions(string runFolder, ModelSpec spec, TrainOptions options, ImageTensorDataset data, bool resumed)
    {
        var record = new
        {
            spec, options, dataset = data.Description, images = data.Count, resumed,
            torchSharp = typeof(torch).Assembly.GetName().Version?.ToString(),
            threads = torch.get_num_threads(), machine = Environment.MachineName, startedAt = DateTimeOffset.UtcNow,
        };
        File.WriteAllText(Path.Combine(runFolder, resumed ? $"options.resumed.{DateTime.UtcNow:yyyyMMddHHmmss}.json" : "options.json"),
            JsonSerializer.Serialize(record, Json.Options));
    }

    public static string Describe(ModelSpec s) => $"{s.Kind} {s.ImageSize}x{s.ImageSize}x{s.Channels} nz={s.LatentSize} ngf={s.Ngf} ndf={s.Ndf}" +
        (s.Classes > 0 ? $" classes={s.Classes}" : "") + (ModelFamily.For(s.Kind).HasEncoder && s.Classes > 0 && !s.ConditionalEncoder ? " (its encoder without the class)" : "");
}
