using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Data;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.Configuration;

namespace ImageGen.Cli;

/// <summary>
/// imagegen drop: puts a folder's images (or one archive) into training-images/{dataset}/, which starts a run as any
/// drop does. Each file is checked first as the server's ingest would check it (DropFiles), so a refused file is named
/// here with its reason instead of later in a run's status; a file already in the dataset is never overwritten.
/// </summary>
public static class DropCommand
{
    public static async Task<int> RunAsync(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Drop, rawArgs);
        string source = args.Positional ?? throw new UsageException("'drop' needs a folder, a .zip or a .tar.gz: imagegen drop <folder | archive> --dataset NAME");
        string dataset = StorageLayout.ValidateName(args.Required("--dataset"), "--dataset");
        string prefix = args.String("--prefix") is { } p && p.Trim('/') is { Length: > 0 } folder ? folder + "/" : "";
        if (prefix.Length > 0 && DropFiles.NameRejection(prefix + "a.png") is { } badPrefix)
            throw new UsageException($"--prefix '{args.String("--prefix")}' cannot lead a file's name: {badPrefix}");
        var files = Collect(source);
        if (files.Count == 0) throw new UsageException($"'{source}' holds no files");

        var container = Storage(args).GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        await container.EnsureExistsAsync();
        var conditions = args.Has("--overwrite") ? null : new BlobRequestConditions { IfNoneMatch = ETag.All };
        var bar = new ProgressBar(output);
        int stored = 0, refused = 0;
        long bytes = 0;
        var refusals = new List<string>();
        for (int i = 0; i < files.Count; i++)
        {
            var (path, name) = files[i];
            string blobName = prefix + name;
            // An archive (up to 2 GB) is checked by its size and streamed; an image is read whole (once its size passes)
            // and decoded to check it.
            bool archive = ArchiveReader.IsArchive(blobName);
            long length = new FileInfo(path).Length;
            string? reason = DropFiles.NameRejection(blobName)
                ?? (archive ? DropFiles.ArchiveSizeRejection(length) : ImageDecoder.SizeRejection(length, DecodeLimits.Default));
            byte[]? image = archive || reason is not null ? null : await File.ReadAllBytesAsync(path);
            reason ??= image is null ? null : DropFiles.Rejection(blobName, image);
            if (reason is null)
            {
                try
                {
                    var blob = container.GetBlobClient(StorageLayout.TrainingImagesPrefix(dataset) + blobName);
                    var options = new BlobUploadOptions { Conditions = conditions };
                    if (archive)
                    {
                        await using var file = File.OpenRead(path);
                        await blob.UploadAsync(file, options);
                    }
                    else await blob.UploadAsync(BinaryData.FromBytes(image!), options);
                    stored++;
                    bytes += length;
                }
                catch (RequestFailedException e) when (e.Status is 409 or 412)
                {
                    reason = "the dataset holds a file of that name already (--overwrite replaces it)";
                }
            }
            if (reason is not null) { refused++; refusals.Add($"  refused {name}: {reason}"); }
            int filled = (int)Math.Round(24.0 * (i + 1) / files.Count);
            bar.Line($"[{new string('#', filled)}{new string('-', 24 - filled)}] {i + 1}/{files.Count} files, {stored} stored, {refused} refused, {bytes / 1e6:0.0} MB", force: i == files.Count - 1);
        }
        bar.Finish();
        foreach (var line in refusals.Take(50)) output.WriteLine(line);
        if (refusals.Count > 50) output.WriteLine($"  ... and {refusals.Count - 50} more refused");
        output.WriteLine($"dropped {stored} of {files.Count} files into {StorageLayout.TrainingImagesContainer}/{dataset}/{prefix}; " +
            (stored > 0 ? $"a run starts once uploads go quiet (GET /api/datasets/{dataset}/training follows it)" : "nothing was stored"));
        return stored > 0 ? 0 : 1;
    }

    /// <summary>A folder's files with their names relative to it ('/'-separated), or one archive file as it is.</summary>
    private static List<(string Path, string Name)> Collect(string source)
    {
        if (File.Exists(source)) return [(source, Path.GetFileName(source))];
        if (!Directory.Exists(source)) throw new UsageException($"'{source}' is neither a folder nor a file");
        return Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
            .Select(path => (path, Path.GetRelativePath(source, path).Replace(Path.DirectorySeparatorChar, '/')))
            .Where(f => !f.Item2.Split('/').Any(part => part.StartsWith('.'))) // hidden files and folders (.DS_Store, .git) stay behind
            .OrderBy(f => f.Item2, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// --storage (a connection string) or --account (a storage account, signed in with DefaultAzureCredential), else the
    /// AzureWebJobsStorage settings in the environment (a connection string or __accountName), else Azurite.
    /// </summary>
    private static BlobServiceClient Storage(Args args)
    {
        if (args.String("--storage") is { } connection) return new BlobServiceClient(connection);
        var settings = new Dictionary<string, string?>();
        if (args.String("--account") is { } account) settings[StorageConnection.DefaultName + ":accountName"] = account;
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddInMemoryCollection(settings).Build();
        bool configured = configuration[StorageConnection.DefaultName] is { Length: > 0 } || configuration.GetSection(StorageConnection.DefaultName).GetChildren().Any();
        return configured ? StorageConnection.CreateBlobServiceClient(configuration) : new BlobServiceClient(StorageConnection.DevelopmentStorage);
    }
}
