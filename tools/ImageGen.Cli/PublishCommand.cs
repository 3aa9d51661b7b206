using Azure.Storage.Blobs;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Imaging;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Cli;

/// <summary>
/// imagegen publish: puts a checkpoint's generator into models/{dataset}/{version}/ (a new version only) and swaps
/// latest.json to it, unless latest is a newer version already.
/// </summary>
public static class PublishCommand
{
    public static async Task<int> RunAsync(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Publish, rawArgs);
        string path = Checkpoint.Resolve(args.Required("--checkpoint"));
        string dataset = StorageLayout.ValidateName(args.Required("--dataset"), "--dataset");
        string version = StorageLayout.ValidateVersion(args.Required("--version"), "--version");
        var registry = new ModelRegistry(new BlobServiceClient(StorageConnection.LocalConnectionString(args.String("--storage"))));
        await registry.EnsureContainersAsync();
        var header = Checkpoint.ReadHeader(path);
        byte[] samples;
        using (var sampler = ImageSampler.Load(path))
        using (var images = sampler.Generate(Seeds.Range(0, 64)))
            samples = TensorImages.EncodeGridPng(images);
        await using var file = File.OpenRead(path);
        // A version that exists is refused (VersionExistsException), never overwritten.
        var latest = await registry.PublishAsync(new ModelCard
        {
            Dataset = dataset, Version = version, Spec = header.Spec, Steps = header.Step, SourceRun = Path.GetFullPath(path),
            PublishedAt = DateTimeOffset.UtcNow, Classes = header.Classes, ClassSizes = header.ClassSizes, Parent = header.WarmStartedFrom,
        }, file, samples);
        output.WriteLine(latest?.Version == version
            ? $"published {path} as models/{dataset}/{version}; latest.json now names {version}"
            : $"published {path} as models/{dataset}/{version}; latest.json stays at the newer {latest?.Version} " +
              $"(promote with POST /api/datasets/{dataset}/models/{version}/promote)");
        return 0;
    }
}
