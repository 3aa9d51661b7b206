using ImageGen.Core.Data;
using ImageGen.Core.Models;

namespace ImageGen.Cli;

public static class IngestCommand
{
    public static int Run(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Ingest, rawArgs);
        string input = args.Required("--in");
        if (!Directory.Exists(input)) throw new UsageException($"--in '{input}' is not a folder");
        var limits = new DecodeLimits
        {
            MaxSide = args.Int("--max-side", 1, 65536) ?? DecodeLimits.Default.MaxSide,
            MaxPixels = args.Long("--max-pixels", 1, 1L << 32) ?? DecodeLimits.Default.MaxPixels,
        };
        var lastReport = DateTime.MinValue;
        var progress = new Progress<PackProgress>(p =>
        {
            if (DateTime.UtcNow - lastReport < TimeSpan.FromSeconds(2)) return;
            lastReport = DateTime.UtcNow;
            Console.Error.WriteLine($"  {p.Seen} inputs: {p.Accepted} accepted, {p.Rejected} rejected");
        });
        DatasetManifest manifest;
        using (var packer = new DatasetPacker(args.Required("--out"), args.Choice("--image-size", ModelSpec.SupportedImageSizes) ?? 32,
                   args.Choice("--channels", ModelSpec.SupportedChannels) ?? 1, limits, progress))
        {
            packer.AddFolder(input);
            manifest = packer.Finish();
        }
        output.WriteLine($"accepted {manifest.Count}, rejected {manifest.Rejected.Count}; {manifest.Shards.Count} shard(s) in {args.Required("--out")}");
        foreach (var rejection in manifest.Rejected) output.WriteLine($"  rejected '{rejection.Name}': {rejection.Reason}");
        return manifest.Count > 0 ? 0 : 1;
    }
}
