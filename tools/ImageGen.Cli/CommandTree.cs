using System.CommandLine;
using ImageGen.Core.Models;

namespace ImageGen.Cli;

/// <summary>A command (or bench target): its name, what it does, the options it takes, and the one bare argument if any.</summary>
public sealed record CommandDefinition(string Name, string Description, string[] Values, string[] Flags, string? Positional = null)
{
    public IReadOnlyList<CommandDefinition> Targets { get; init; } = [];
    public CommandDefinition Target(string name) => Targets.Single(t => t.Name == name);
}

/// <summary>
/// Every command and option of imagegen, named once. The commands parse their arguments with these lists (Args: typed
/// reads with ranges, errors that name the option and what it accepts), and System.CommandLine builds from the same
/// table the help of every command (imagegen CMD --help) and tab completion (the [suggest] directive that
/// `imagegen completion bash` wires into bash).
/// </summary>
public static class CommandTree
{
    public static readonly CommandDefinition Up = new("up",
        "The whole system locally: Azurite, the pipeline host, a demo drop followed live to a published model, a sample grid and the URLs to try; serves until Ctrl+C; a second up resumes",
        ["--data", "--urls", "--azurite-ports", "--steps", "--images", "--threads", "--allowed-hosts"], ["--once", "--allow-remote"]);
    public static readonly CommandDefinition Drop = new("drop",
        "Uploads a folder (sub-folders too), a .zip or a .tar.gz into training-images/NAME/, each file checked as ingest would; a run starts once uploads go quiet",
        ["--dataset", "--storage", "--account", "--prefix"], ["--overwrite"], Positional: "folder | archive");
    public static readonly CommandDefinition Train = new("train", "Trains a DCGAN or VAE on a folder, an IDX file, shards or synthetic shapes, writing checkpoints, grids and metrics",
        ["--data", "--model", "--image-size", "--channels", "--epochs", "--max-steps", "--time-budget", "--batch-size", "--optimizer", "--lr", "--beta1",
         "--beta2", "--momentum", "--loss", "--kl-weight", "--ema", "--augment", "--ada", "--mode-seeking", "--xflip", "--fit-prior", "--conditional", "--clusters", "--extractor-steps", "--nz", "--ngf", "--ndf", "--seed", "--sample-every", "--limit", "--init-from", "--threads", "--out"],
        ["--resume"]);
    public static readonly CommandDefinition Sample = new("sample", "Generates images from a checkpoint: seeded, as a grid or files, with interpolation, truncation or VAE reconstruction",
        ["--checkpoint", "--count", "--seeds", "--seed", "--class", "--interpolate", "--truncation", "--nrow", "--padding", "--reconstruct", "--threads", "--out"],
        ["--grid", "--out-dir"]);
    public static readonly CommandDefinition Ingest = new("ingest", "Validates, decodes, resizes and packs a folder of images into shards",
        ["--in", "--out", "--image-size", "--channels", "--max-side", "--max-pixels"], []);
    public static readonly CommandDefinition Serve = new("serve", "Serves the published models over HTTP (the samples endpoints only), without the Functions host",
        ["--storage", "--urls", "--threads", "--max-models", "--batch-window-ms", "--max-queue", "--allowed-hosts", "--max-request-pixels",
         "--max-pixels-in-flight", "--max-encodes", "--warm", "--backend"], ["--no-batching", "--allow-remote", "--metrics", "--lean"]);
    public static readonly CommandDefinition Host = new("host", "The whole app without the Functions host: blob drops start durable training runs that publish models, and every endpoint is served",
        ["--storage", "--urls", "--task-hub", "--quiet", "--chunk-steps", "--chunk-time", "--poll", "--threads", "--retry-interval", "--activity-lock",
         "--eval-samples", "--extractor-steps", "--allowed-hosts", "--warm"], ["--verbose", "--allow-remote", "--metrics"]);
    public static readonly CommandDefinition Publish = new("publish", "Publishes a checkpoint's generator as models/DATASET/VERSION and moves latest.json to it unless a newer version is latest",
        ["--checkpoint", "--dataset", "--version", "--storage"], []);
    public static readonly CommandDefinition Export = new("export", "Writes a checkpoint's generator as an ONNX model (BatchNorm folded, dynamic batch; input z, and class where conditional; output images in [-1, 1]), and a VAE's encoder as encoder.onnx beside it",
        ["--checkpoint", "--out"], ["--raw"]);
    public static readonly CommandDefinition Extractor = new("extractor", "Trains the quality metrics' feature extractor: a classifier on labelled data, or self-supervised on unlabelled images",
        ["--data", "--labels", "--test-data", "--test-labels", "--out", "--epochs", "--steps", "--image-size", "--channels", "--threads", "--seed"],
        ["--self-supervised"]);
    public static readonly CommandDefinition Eval = new("eval", "Scores a checkpoint against its training data: FD, KID, precision and recall, memorization",
        ["--checkpoint", "--data", "--reference", "--extractor", "--count", "--threads", "--json"], []);
    public static readonly CommandDefinition Bench = new("bench", "Benchmarks: training, sampling, HTTP serving, the pipeline, promotion, evaluation and quality against the PyTorch reference", [], [])
    {
        Targets =
        [
            new("train", "Training steps per second", ["--model", "--image-size", "--channels", "--batch-size", "--steps", "--warmup", "--threads"], []),
            new("sample", "Sampling throughput", ["--count", "--iterations", "--warmup", "--checkpoint", "--model", "--image-size", "--threads"], []),
            new("http", "Load on a running server: latency percentiles, throughput, server RSS",
                ["--url", "--path", "--concurrency", "--requests", "--warmup", "--images-per-request", "--server-pid", "--time-limit"], []),
            new("overhead", "Serving overhead over the bare forward pass", ["--url", "--dataset", "--checkpoint", "--count", "--rounds", "--block", "--warmup", "--threads"], []),
            new("pipeline", "A drop to a published model on Azurite, timed per stage",
                ["--storage", "--images", "--concurrency", "--max-steps", "--quiet", "--threads", "--runs", "--eval-samples", "--extractor-steps"], []),
            new("promote", "Serving under load while latest moves between versions",
                ["--url", "--storage", "--dataset", "--from", "--to", "--concurrency", "--duration", "--promote-at", "--settle"], []),
            new("eval", "Evaluation cold and cached", ["--checkpoint", "--data", "--limit", "--steps", "--samples", "--threads"], []),
            new("quality", "Ours and the PyTorch reference for the same time budget, scored alike",
                ["--model", "--budget", "--threads", "--samples", "--marks", "--batch-size", "--seed", "--extractor", "--out", "--python"], ["--ours-only"]),
            new("variants", "Training recipes side by side at equal steps on one subset, over seeds, scored alike",
                ["--variants", "--data", "--data-labels", "--reference", "--limit", "--steps", "--seeds", "--samples", "--image-size", "--channels", "--extractor", "--extractor-steps", "--threads", "--out"], ["--labels"]),
            new("backends", "ONNX Runtime against libtorch on one checkpoint in one process: load time, latency per pass by batch size (alternating blocks), agreement",
                ["--checkpoint", "--counts", "--rounds", "--block", "--threads"], []),
            new("warmstart", "A follow-up run on 5% more images, warm-started from its parent: steps to reach the parent's FD (clusters carried over where the options ask for them)",
                ["--options", "--limit", "--steps", "--samples", "--seed", "--marks", "--extractor", "--threads", "--out"], ["--fresh"]),
        ],
    };
    public static readonly CommandDefinition Completion = new("completion", "Prints a shell's tab-completion script: eval \"$(tools/imagegen completion bash)\"", [], [], Positional: "bash");

    public static readonly IReadOnlyList<CommandDefinition> All = [Up, Drop, Train, Sample, Ingest, Serve, Host, Publish, Export, Extractor, Eval, Bench, Completion];

    /// <summary>What each option means, by name (an option means the same wherever it appears).</summary>
    private static readonly Dictionary<string, string> OptionHelp = new()
    {
        ["--data"] = "training data: a folder of images, an IDX file, a shard folder or synthetic[:N] (up: its data folder, default .imagegen)",
        ["--urls"] = "where the server listens (';'-separated; port 0 picks a free one)",
        ["--azurite-ports"] = "default (10000-10002) or auto (free ports)",
        ["--steps"] = "training steps",
        ["--images"] = "how many demo images to drop",
        ["--threads"] = "torch threads (default: the cores)",
        ["--once"] = "exit once the demo is published instead of serving",
        ["--dataset"] = "dataset name: lower-case letters, digits, '-' or '_'",
        ["--storage"] = "a storage connection string (default: AzureWebJobsStorage from the environment, else Azurite)",
        ["--account"] = "a storage account name, signed in with DefaultAzureCredential",
        ["--prefix"] = "a folder inside the dataset to put the files under",
        ["--overwrite"] = "replace files of the same name (by default they are refused)",
        ["--model"] = "dcgan or vae",
        ["--image-size"] = "32, 64 or 128",
        ["--channels"] = "1 (greyscale) or 3 (RGB)",
        ["--epochs"] = "epochs to train",
        ["--max-steps"] = "stop after this many steps",
        ["--time-budget"] = "stop after this long (90s, 10m, 2h)",
        ["--batch-size"] = "images per step (1..4096)",
        ["--optimizer"] = "adam, rmsprop or sgd",
        ["--lr"] = "learning rate",
        ["--beta1"] = "Adam's beta1",
        ["--beta2"] = "Adam's beta2",
        ["--momentum"] = "SGD or RMSprop momentum",
        ["--loss"] = "bce, hinge or mse (GAN loss)",
        ["--kl-weight"] = "the VAE's KL term weight (beta; default 0.05, 0.1 with classes, 1 with --fit-prior false)",
        ["--ema"] = "half-life in images of the generator's moving average (0: off)",
        ["--augment"] = "DiffAugment before the discriminator: off, all, or a set of color, translation, cutout",
        ["--ada"] = "true: apply the augmentations to each image with a probability that follows D's overfitting (ADA), from 0",
        ["--mode-seeking"] = "GANs: weight of the mode-seeking term (MSGAN) that keeps fakes of one class apart for different z (0: off; a DCGAN's default: 0.5 on the data's own classes, else 1)",
        ["--xflip"] = "true: mirror real images at random (for data whose mirror image is as likely)",
        ["--fit-prior"] = "VAE: sample from a Gaussian fitted to the encoder's latents of the training images, per class (default true)",
        ["--variants"] = "name={json options};name={json options}: recipes as imagegen.json holds them",
        ["--conditional"] = "class-conditional on the data's sub-folders: true, false (default: when the data has classes)",
        ["--class"] = "the class to draw (class-conditional models; default: each seed's own); with --reconstruct, the inputs' class (default: their folders')",
        ["--init-from"] = "start from this checkpoint's networks (a warm start; the spec must match)",
        ["--data-labels"] = "IDX labels of --data where it is not Fashion-MNIST (for --labels)",
        ["--clusters"] = "unlabelled data: group the images into K clusters (k-means over a self-supervised extractor's features) and train class-conditionally on them (0: off; default: 10 on 300 images or more, off otherwise)",
        ["--options"] = "training options as imagegen.json holds them",
        ["--nz"] = "latent size",
        ["--ngf"] = "generator width",
        ["--ndf"] = "discriminator width",
        ["--seed"] = "random seed",
        ["--sample-every"] = "write a sample grid every N steps",
        ["--limit"] = "use at most N training images",
        ["--out"] = "where to write (a run folder, a file or a folder)",
        ["--resume"] = "carry on from the run folder's checkpoint",
        ["--checkpoint"] = "a run folder or checkpoint file",
        ["--count"] = "how many images",
        ["--seeds"] = "seeds: 1,5,7 or 10-20",
        ["--interpolate"] = "A,B,STEPS: a slerp between two seeds",
        ["--truncation"] = "latent scale, 0.01..2 (1: off)",
        ["--nrow"] = "images per grid row",
        ["--padding"] = "pixels between grid cells",
        ["--reconstruct"] = "images to reconstruct through a VAE",
        ["--raw"] = "the raw generator instead of its moving average",
        ["--backend"] = "auto (ONNX Runtime where a version has model.onnx), onnx or libtorch",
        ["--lean"] = "serve as the lean Functions build does: ONNX Runtime alone, libtorch never loaded (versions without model.onnx and VAE reconstruction are refused)",
        ["--counts"] = "images per pass, comma-separated",
        ["--rounds"] = "alternating rounds of both sides",
        ["--grid"] = "write one grid PNG",
        ["--out-dir"] = "write one PNG per seed into a folder, streaming",
        ["--in"] = "a folder of images",
        ["--max-side"] = "largest image side accepted, in pixels",
        ["--max-pixels"] = "largest image accepted, in pixels",
        ["--max-models"] = "models kept loaded at once",
        ["--batch-window-ms"] = "how long a request waits for others to share its forward pass",
        ["--max-queue"] = "requests waiting per model before 429",
        ["--allowed-hosts"] = "Host names answered besides localhost ('*': any)",
        ["--max-request-pixels"] = "output pixels one request may ask for",
        ["--max-pixels-in-flight"] = "output pixels held by all requests at once",
        ["--max-encodes"] = "PNG encodes at once",
        ["--no-batching"] = "one forward pass per request",
        ["--metrics"] = "OpenTelemetry metrics for Prometheus at /metrics (OTLP export: set OTEL_EXPORTER_OTLP_ENDPOINT)",
        ["--warm"] = "datasets (a,b) whose latest model is loaded and warmed at start and after each publish; /api/health/ready waits for them",
        ["--allow-remote"] = "let --urls name an address beyond loopback",
        ["--task-hub"] = "the durable task hub's name",
        ["--quiet"] = "how long uploads must be quiet before a run starts",
        ["--chunk-steps"] = "training steps per activity",
        ["--chunk-time"] = "longest activity",
        ["--poll"] = "how often training-images is scanned for drops",
        ["--retry-interval"] = "first retry delay of a failed activity",
        ["--activity-lock"] = "how long a started activity stays locked",
        ["--eval-samples"] = "images generated to score a run",
        ["--extractor-steps"] = "training steps of the dataset's self-supervised feature extractor (train: the one that finds the clusters)",
        ["--verbose"] = "log at information level",
        ["--version"] = "version name: v0001, v0002, ...",
        ["--labels"] = "extractor: IDX labels of --data; bench variants: attach the data's labels (Fashion-MNIST's, or --data-labels), so variants train class-conditionally unless they say conditional false",
        ["--test-data"] = "IDX held-out images",
        ["--test-labels"] = "IDX held-out labels",
        ["--self-supervised"] = "train without labels (what the pipeline does per dataset version)",
        ["--reference"] = "held-out images to compare with",
        ["--extractor"] = "a feature extractor file",
        ["--json"] = "also write the scores to this JSON file",
        ["--warmup"] = "iterations not timed",
        ["--iterations"] = "timed iterations",
        ["--url"] = "the server's base URL",
        ["--path"] = "the request path",
        ["--concurrency"] = "requests in flight",
        ["--requests"] = "requests to send",
        ["--images-per-request"] = "images each request asks for",
        ["--server-pid"] = "the server's process, to read its RSS",
        ["--time-limit"] = "stop after this long",
        ["--rounds"] = "measurement rounds",
        ["--block"] = "requests per round",
        ["--runs"] = "datasets run one after another",
        ["--from"] = "the version latest starts at",
        ["--to"] = "the version latest moves to",
        ["--duration"] = "how long the load runs",
        ["--promote-at"] = "when latest moves, into the run",
        ["--settle"] = "time allowed after the move",
        ["--samples"] = "images generated for scoring",
        ["--marks"] = "points on the quality-over-time curve",
        ["--fresh"] = "also train a follow-up from scratch (on clusters of its own where the options ask for clusters), scored at the same marks up to the parent's steps",
        ["--budget"] = "training time for each side",
        ["--python"] = "the Python with PyTorch for the reference",
        ["--ours-only"] = "skip the PyTorch reference",
    };

    /// <summary>The values an option accepts, where they are a short list: shown in help, offered by tab completion.</summary>
    private static readonly Dictionary<string, string[]> Choices = new()
    {
        ["--model"] = Names<ModelKind>(),
        ["--optimizer"] = Names<OptimizerKind>(),
        ["--loss"] = Names<LossKind>(),
        ["--image-size"] = [.. ModelSpec.SupportedImageSizes.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))],
        ["--channels"] = [.. ModelSpec.SupportedChannels.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))],
        ["--azurite-ports"] = ["default", "auto"],
        ["--xflip"] = ["true", "false"],
        ["--ada"] = ["true", "false"],
        ["--fit-prior"] = ["true", "false"],
        ["--conditional"] = ["true", "false"],
    };

    private static string[] Names<T>() where T : struct, Enum => [.. Enum.GetNames<T>().Select(n => n.ToLowerInvariant())];

    /// <summary>The tree System.CommandLine draws help and completions from; the commands' own parsing does the rest.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("imagegen: train and sample GANs and VAEs (TorchSharp), and run the whole pipeline locally. Without a command: the quickstart trainer (1 epoch of DCGAN on Fashion-MNIST, then a sample grid)");
        foreach (var definition in All) root.Subcommands.Add(ToCommand(definition));
        return root;
    }

    private static Command ToCommand(CommandDefinition definition)
    {
        var command = new Command(definition.Name, definition.Description);
        if (definition.Positional is { } positional) command.Arguments.Add(new Argument<string>(positional) { Arity = ArgumentArity.ZeroOrOne });
        foreach (var name in definition.Values)
        {
            var option = new Option<string>(name) { Description = Describe(name), HelpName = Choices.TryGetValue(name, out var choices) ? string.Join("|", choices) : "value" };
            if (choices is not null) option.CompletionSources.Add(choices);
            command.Options.Add(option);
        }
        foreach (var name in definition.Flags) command.Options.Add(new Option<bool>(name) { Description = Describe(name) });
        foreach (var target in definition.Targets) command.Subcommands.Add(ToCommand(target));
        return command;
    }

    private static string Describe(string option) =>
        OptionHelp.TryGetValue(option, out var text) ? text : throw new InvalidOperationException($"option {option} has no help text in CommandTree");

    /// <summary>Bash completion through the [suggest] directive: the words offered are System.CommandLine's completions.</summary>
    public const string BashCompletion = """
        _imagegen_complete() {
          local IFS=$'\n'
          COMPREPLY=($(tools/imagegen "[suggest:$((COMP_POINT - ${#COMP_WORDS[0]} - 1))]" "${COMP_LINE#* }" 2>/dev/null))
        }
        complete -o default -F _imagegen_complete imagegen tools/imagegen
        """;
}
