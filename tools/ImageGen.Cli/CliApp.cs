using ImageGen.Core.Runtime;

namespace ImageGen.Cli;

public static class CliApp
{
    public const string Usage = """
        imagegen: train and sample GANs and VAEs (TorchSharp)

          imagegen                      the quickstart: 1 epoch of DCGAN on Fashion-MNIST (or synthetic shapes), then a sample grid
          imagegen up      [--data .imagegen] [--urls http://localhost:7071] [--steps 400] [--images 2000] [--once]
                           [--azurite-ports default|auto]
                           the whole system: Azurite, the pipeline host, a demo drop followed live to a published model,
                           a sample grid and the URLs to try; serves until Ctrl+C (--once: exits once published); resumes
          imagegen drop    <folder | .zip | .tar.gz> --dataset NAME [--storage <connection string> | --account NAME]
                           [--prefix FOLDER] [--overwrite]
                           uploads into training-images/NAME/ with the server's checks per file (a refused file is named
                           with its reason); a run starts once uploads go quiet. Storage: --storage, --account (signed in
                           with DefaultAzureCredential), AzureWebJobsStorage[__accountName] from the environment, else Azurite
          imagegen train   --data <folder | idx file | shard folder | synthetic[:N]> --out <run folder> [options]
          imagegen sample  --checkpoint <run folder or file> --out <file or folder> [--count N | --seeds 1-16] [--seed N]
                           [--grid | --out-dir] [--interpolate A,B,STEPS] [--truncation X] [--reconstruct <images>]
          imagegen ingest  --in <folder> --out <shard folder> [--image-size 32|64] [--channels 1|3]
          imagegen serve   [--storage <connection string>] [--urls http://127.0.0.1:5080] [--no-batching]
                           [--max-request-pixels 16777216] [--max-pixels-in-flight 50331648] [--max-encodes <cores>]
          imagegen host    [--storage <connection string>] [--urls http://127.0.0.1:5080] [--quiet 30s] [--chunk-steps N]
                           [--chunk-time 2m] [--activity-lock 10m] [--poll 5s] [--task-hub ImageGen] [--verbose]
                           [--eval-samples 2000] [--extractor-steps 400]
                           the whole app without the Functions host: blob drops start durable training runs that publish models
                           serve and host have no keys: they listen on loopback and answer Host localhost, 127.0.0.1, [::1] only;
                           --allow-remote lets --urls name a wider address, --allowed-hosts a,b adds Host names ("*": any)
          imagegen extractor [--data IDX --labels IDX --test-data IDX --test-labels IDX] --out <file> [--epochs 2]
                           train the quality metrics' feature classifier (defaults: Debian's Fashion-MNIST)
          imagegen extractor --self-supervised --data <images> --out <file> [--steps 400] [--channels 1|3]
                           or a self-supervised one from unlabeled images (what the pipeline makes per dataset version)
          imagegen eval    --checkpoint <run folder or file> --data <training data> --extractor <file> [--reference <held-out data>]
                           [--count 10000] [--json <file>]: FD, KID, precision/recall and memorization
                           (without --checkpoint: the --reference images themselves, real vs real)
          imagegen publish --checkpoint <run folder or file> --dataset <name> --version <v0001> [--storage <connection string>]
          imagegen bench http   [--url http://127.0.0.1:5080] [--path /api/...] [--concurrency N] [--requests N] [--server-pid PID]
          imagegen bench train  [--model dcgan|vae] [--image-size 32|64] [--batch-size N] [--steps N] [--threads N]
          imagegen bench sample [--count N] [--iterations N] [--checkpoint <file>]
          imagegen bench overhead --checkpoint <file> [--url http://127.0.0.1:5080] [--dataset fmnist] [--count 16] [--rounds 10] [--block 20]
          imagegen bench pipeline [--storage <connection string>] [--images 2000] [--max-steps 100] [--quiet 5s] [--runs 1]
                           [--eval-samples 2000] [--extractor-steps 400]   (--runs N: N datasets one after another, then the local disk in use)
          imagegen bench quality [--model dcgan|vae] [--budget 10m] [--threads 2] [--samples 10000] [--marks 5] [--out <folder>]
                           ours and the PyTorch reference (bench/reference/quality.py) for the same budget, scored alike
          imagegen bench eval   --checkpoint <file> [--data <images>] [--steps 400] [--samples 2000]: cold vs cached evaluation
          imagegen bench promote --from v0001 --to v0002 [--url ...] [--storage ...] [--concurrency 16] [--duration 20s]

        train options: --model dcgan|vae --image-size 32|64 --channels 1|3 --epochs N --max-steps N --time-budget 10m
          --batch-size N --optimizer adam|rmsprop|sgd --lr X --beta1 X --beta2 X --momentum X --loss bce|hinge|mse
          --kl-weight X --ema IMAGES --nz N --ngf N --ndf N --seed N --sample-every N --limit N --threads N --resume
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            if (args.Length == 0) return QuickstartCommand.Run(output, error);
            string command = args[0];
            var rest = args.Skip(1).ToArray();
            switch (command)
            {
                case "train": return TrainCommand.Run(rest, output, error);
                case "sample": return SampleCommand.Run(rest, output);
                case "ingest": return IngestCommand.Run(rest, output);
                case "bench": return BenchCommand.Run(rest, output);
                case "serve": return await ServeCommand.RunAsync(rest, output);
                case "publish": return await PublishCommand.RunAsync(rest, output);
                case "extractor": return EvalCommand.TrainExtractor(rest, output);
                case "eval": return EvalCommand.Run(rest, output);
                case "host": return await HostCommand.RunAsync(rest, output);
                case "up": return await UpCommand.RunAsync(rest, output);
                case "drop": return await DropCommand.RunAsync(rest, output);
                case "help" or "--help" or "-h": output.WriteLine(Usage); return 0;
                default:
                    throw new UsageException($"unknown command '{command}'; use up, drop, train, sample, ingest, serve, host, publish, extractor, eval or bench (imagegen --help)");
            }
        }
        catch (Exception e) when (e is UsageException or ArgumentException or FormatException or FileNotFoundException
                                       or DirectoryNotFoundException or InvalidDataException or InvalidOperationException)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        finally { await error.FlushAsync(); }
    }

    /// <summary>Threads and allocator settings, applied before the first tensor is made.</summary>
    public static void ConfigureRuntime(Args args, bool serving = false)
    {
        TorchRuntime.Configure(args.Int("--threads", 1, 1024), serving: serving);
    }
}
