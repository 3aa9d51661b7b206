using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Training;

namespace ImageGen.Cli;

public static class TrainCommand
{
    public static int Run(string[] rawArgs, TextWriter output, TextWriter error)
    {
        var args = Args.Parse(CommandTree.Train, rawArgs);
        var (spec, options) = args.TrainSettings();
        string outFolder = args.Required("--out");
        CliApp.ConfigureRuntime(args);
        string dataSource = args.String("--data") ?? DefaultDataSource();
        string? initFrom = args.String("--init-from") is { } init ? Checkpoint.Resolve(init) : null;
        if (initFrom is not null && args.Has("--resume")) throw new UsageException("--init-from starts a new run from a checkpoint; --resume carries on the run in --out: pick one");
        return Train(dataSource, spec, options, outFolder, args.Has("--resume"), args.Int("--limit", 1, int.MaxValue), output, error, initFrom,
            args.Int("--extractor-steps", 1, 100_000) ?? ContrastiveTraining.DefaultSteps);
    }

    public static int Train(string dataSource, ModelSpec spec, TrainOptions options, string outFolder, bool resume, int? limit,
        TextWriter output, TextWriter error, string? initFrom = null, int extractorSteps = ContrastiveTraining.DefaultSteps)
    {
        output.WriteLine(TorchRuntime.Describe());
        using var loaded = DatasetLoader.Load(dataSource, spec.ImageSize, spec.Channels, limit, seed: options.Seed ?? 0);
        output.WriteLine($"data: {loaded.Description} -> {loaded.Count} x {loaded.Channels}x{loaded.ImageSize}x{loaded.ImageSize}");
        string checkpointPath = Path.Combine(outFolder, Checkpoint.FileName);
        var resumeFrom = resume && File.Exists(checkpointPath) ? Checkpoint.ReadHeader(checkpointPath) : null;
        if (resume && resumeFrom is null) output.WriteLine($"--resume: no checkpoint in {outFolder} yet, so a new run starts there");
        bool defaultClusters = options.Clusters is null && resumeFrom is null, defaultModeSeeking = options.ModeSeeking is null && resumeFrom is null;
        options = ImageClusters.Resolve(options, spec.Kind, loaded, resumeFrom);
        if (options.Clusters is > 0 && !ImageClusters.Apply(loaded, options)) output.WriteLine($"clusters {options.Clusters}: the data has classes of its own ({string.Join(", ", loaded.ClassNames)}), and keeps them");
        if (defaultClusters && options.Clusters is > 0)
            output.WriteLine($"clusters {options.Clusters}: the {ModelFamily.For(spec.Kind).Name}'s default for unlabelled data ('--clusters 0' trains without)");
        if (defaultModeSeeking && options.ModeSeeking is > 0)
            output.WriteLine($"mode seeking {options.ModeSeeking}: the {ModelFamily.For(spec.Kind).Name}'s default on " +
                             ImageClusters.Origin(loaded, options) switch { ClassOrigin.Clusters => "clusters", ClassOrigin.Data => "the data's own classes", _ => "data without classes" } +
                             " ('--mode-seeking 0' trains without)");
        using var clustered = ImageClusters.Label(loaded, options, extractorSteps, new LineProgress(error));
        var data = clustered ?? loaded;
        output.WriteLine($"model: {spec.Kind} nz={spec.LatentSize} ngf={spec.Ngf} ndf={spec.Ndf}; optimizer {options.Optimizer} lr {options.ResolvedLr(spec.Kind)}; " +
                         $"loss {options.ResolvedLoss(spec.Kind)}; batch {options.BatchSize}; out {outFolder}");
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); error.WriteLine("\nstopping after this step; a checkpoint will be saved"); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var bar = new ProgressBar(error);
            var result = Trainer.Run(new TrainRequest { Data = data, Spec = spec, Options = options, RunFolder = outFolder, Resume = resume, InitFrom = initFrom,
                    StartNote = initFrom is null ? null : $"warm start from {initFrom}" },
                bar, cancel.Token);
            bar.Finish();
            if (result.Divergence is { } divergence)
            {
                error.WriteLine($"training stopped: {divergence}; lower lr or change the loss, then resume with --resume");
                return 1;
            }
            output.WriteLine($"seed {result.Seed}; stopped by {result.StopReason.Name()} after {result.Steps} steps ({result.EpochsCompleted} epochs); checkpoint {result.CheckpointPath}");
            if (result.LastMetrics is { } m)
                output.WriteLine("last metrics: " + string.Join(", ", m.Means.Select(kv => $"{kv.Key} {kv.Value:0.0000}")) + $", {m.ImagesPerSecond:0} img/s");
            if (DrawLossChart(outFolder, spec) is { } chart) output.WriteLine($"loss chart: {chart}");
            return 0;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>The run's losses over steps (from steps.jsonl, every 50 steps) as losses.png in the run folder; null before step 50.</summary>
    public static string? DrawLossChart(string runFolder, ModelSpec spec)
    {
        var lines = StepMetrics.Read(runFolder);
        if (lines.Count == 0) return null;
        string[] names = spec.Kind == ModelKind.Dcgan ? ["loss_d", "loss_g"] : ["recon", "kl"];
        var series = names.Where(n => lines[0].Losses.ContainsKey(n))
            .Select(n => new ChartSeries(n, lines.Select(l => (double)l.Step).ToList(), lines.Select(l => l.Losses[n]).ToList()));
        string path = Path.Combine(runFolder, "losses.png");
        Charts.SaveLines(path, $"{ModelFamily.For(spec.Kind).Name} losses", "step", "loss", series);
        return path;
    }

    /// <summary>Fashion-MNIST from Debian's dataset-fashion-mnist package when installed, else the project's synthetic shapes.</summary>
    public static string DefaultDataSource() => File.Exists(IdxReader.DebianFashionMnistTrain) ? IdxReader.DebianFashionMnistTrain : DatasetLoader.SyntheticPrefix;
}

public static class QuickstartCommand
{
    public const string RunFolder = "runs/quickstart";

    /// <summary>The main job on its embedded default: one epoch of DCGAN 32x32x1, then a 64-image grid from the result.</summary>
    public static int Run(TextWriter output, TextWriter error)
    {
        TorchRuntime.Configure();
        string data = TrainCommand.DefaultDataSource();
        if (data == DatasetLoader.SyntheticPrefix)
            output.WriteLine($"Fashion-MNIST not found at {IdxReader.DebianFashionMnistTrain} (apt-get install dataset-fashion-mnist); training on synthetic shapes");
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan);
        int code = TrainCommand.Train(data, spec, new TrainOptions { Epochs = 1, Seed = 1 }, RunFolder, resume: false, limit: null, output, error);
        if (code != 0) return code;
        string grid = Path.Combine(RunFolder, "samples.png");
        SampleCommand.WriteGrid(Path.Combine(RunFolder, "checkpoint.ckpt"), Core.Sampling.Seeds.Range(0, 64), 1.0, grid, nrow: 8, padding: 2);
        output.WriteLine($"wrote {grid} (64 images, seeds 0-63)");
        return 0;
    }
}
