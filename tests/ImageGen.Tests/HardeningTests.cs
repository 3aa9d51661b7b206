using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Metrics;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Train;
using TorchSharp;

namespace ImageGen.Tests;

/// <summary>A seekable stream that counts the bytes read through it: what a ranged blob stream would download.</summary>
public sealed class CountingStream(Stream inner) : Stream
{
    public long BytesRead { get; private set; }
    public override int Read(byte[] buffer, int offset, int count) { int n = inner.Read(buffer, offset, count); BytesRead += n; return n; }
    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
    public override bool CanRead => true;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => inner.Position = value; }
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
}

/// <summary>
/// Issue 12's core classes: options no one should run by accident, checkpoints checked before anything is allocated
/// from them, and a run whose loss goes NaN stopping with its last good checkpoint.
/// </summary>
public class HardeningTests
{
    private static TrainSettings Json(string json, TrainingLimits? limits = null) =>
        TrainSettings.FromValues(TrainSettings.ParseJsonObject(json, "imagegen.json"), "imagegen.json", limits);

    [Theory]
    // Enum.TryParse reads "rmsprop,sgd" as flags (Rmsprop | Sgd = 3), a value training later failed on.
    [InlineData("{\"optimizer\": \"rmsprop,sgd\"}", "optimizer 'rmsprop,sgd' is not one of adam, rmsprop, sgd")]
    [InlineData("{\"loss\": \"bce, hinge\"}", "loss 'bce, hinge' is not one of bce, hinge, mse")]
    // An int.Parse overflow used to escape as OverflowException: a 500 over HTTP.
    [InlineData("{\"timeBudget\": \"99999999999h\"}", "timeBudget '99999999999h' is over the limit of 72h")]
    [InlineData("{\"timeBudget\": \"9999999999999999999999s\"}", "timeBudget '9999999999999999999999s' is not a positive duration")]
    [InlineData("{\"timeBudget\": \"100:00:00\"}", "timeBudget '100:00:00' is over the limit of 72h")]
    [InlineData("{\"epochs\": 1000000}", "epochs '1000000' is not an integer in 1..10000")]
    [InlineData("{\"maxSteps\": 9000000000000000000}", "maxSteps '9000000000000000000' is not an integer in 1..10000000")]
    // Each in range alone; together 1.4 billion parameters, a 22 GB checkpoint a request could ask for.
    [InlineData("{\"imageSize\": 64, \"ngf\": 1024, \"ndf\": 1024}", "the model has 1,422,557,")]
    public void Options_past_their_limits_are_refused_when_read_naming_the_key(string json, string expected)
    {
        var error = Assert.Throws<OptionException>(() => Json(json));
        Assert.Contains(expected, error.Message);
        Assert.StartsWith("imagegen.json: ", error.Message);
    }

    [Fact]
    public void The_operator_sets_the_limits_and_the_message_names_the_count()
    {
        var limits = new TrainingLimits { MaxEpochs = 20, MaxSteps = 5_000, MaxTimeBudget = TimeSpan.FromHours(1) };
        Assert.Equal(20, Json("{\"epochs\": 20}", limits).Options.Epochs);
        Assert.Contains("epochs '21' is not an integer in 1..20", Assert.Throws<OptionException>(() => Json("{\"epochs\": 21}", limits)).Message);
        Assert.Contains("maxSteps '5001'", Assert.Throws<OptionException>(() => Json("{\"maxSteps\": 5001}", limits)).Message);
        Assert.Contains("over the limit of 1h", Assert.Throws<OptionException>(() => Json("{\"timeBudget\": \"61m\"}", limits)).Message);
        // The default DCGAN (ngf = ndf = 64 at 32x32) has about 3.6 M parameters: over this operator's 1 M.
        var size = Assert.Throws<OptionException>(() => Json("{}", limits with { MaxParameters = 1_000_000 })).Message;
        Assert.Contains($"the model has {ModelSize.Parameters(ModelSpec.DefaultFor(ModelKind.Dcgan)):N0} parameters", size);
        Assert.Contains("over the limit of 1,000,000", size);
        Assert.Throws<ArgumentException>(() => new TrainingLimits { MaxParameters = ModelSpec.MaxParameters + 1 }.Validate());
    }

    [Theory]
    [InlineData(ModelKind.Dcgan, 32, 1)]
    [InlineData(ModelKind.Dcgan, 64, 3)]
    [InlineData(ModelKind.Vae, 32, 1)]
    [InlineData(ModelKind.Vae, 64, 3)]
    [InlineData(ModelKind.Dcgan, 32, 1, ModelSpec.MaxClasses)]
    [InlineData(ModelKind.Vae, 32, 1, ModelSpec.MaxClasses)] // the encoder's class inputs are a twentieth of this one
    public void The_parameter_count_from_the_spec_matches_the_built_networks(ModelKind kind, int imageSize, int channels, int classes = 0)
    {
        var spec = ModelSpec.DefaultFor(kind, imageSize, channels) with
        {
            Ngf = 24, Ndf = 20, LatentSize = 40, Classes = classes, ConditionalEncoder = kind == ModelKind.Vae && classes > 0,
        };
        using var model = Trainables.Create(spec, new TrainOptions());
        // What the sections hold: every network's parameters (the optimizer states and the moving average are copies of them).
        long built = 0;
        foreach (var part in model.Parts.Where(p => !p.Name.StartsWith("optimizer", StringComparison.Ordinal) && !p.Name.StartsWith(CheckpointSections.GeneratorAverage, StringComparison.Ordinal)))
        {
            using var buffer = new MemoryStream();
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) part.Write(writer);
            built += buffer.Length / sizeof(float);
        }
        long counted = ModelSize.Parameters(spec);
        // BatchNorm's weights and running statistics, the biases and the names are the difference: under 3%.
        Assert.InRange(built, counted, counted * 1.03);
    }

    // ---- checkpoints ----

    private static (CheckpointHeader header, Dictionary<string, byte[]> sections) TinyCheckpoint(TempFolder folder)
    {
        using var data = SyntheticShapes.Generate(32, 32, 1, seed: 2);
        var result = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 }, RunFolder = folder.File("run"),
            Options = new TrainOptions { MaxSteps = 2, BatchSize = 16, Seed = 3 },
        });
        return Checkpoint.Read(result.CheckpointPath);
    }

    private static byte[] Write(CheckpointHeader header, IEnumerable<KeyValuePair<string, byte[]>> sections)
    {
        using var buffer = new MemoryStream();
        Checkpoint.Write(buffer, header, sections.Select(kv => (kv.Key, (Action<BinaryWriter>)(w => w.Write(kv.Value)))).ToList());
        return buffer.ToArray();
    }

    /// <summary>Magic, the header as given, then raw bytes: files a writer of ours would never make.</summary>
    private static byte[] Forged(string headerJson, Action<BinaryWriter> rest)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write("IGCKPT01"u8.ToArray());
            writer.Write(headerJson);
            rest(writer);
        }
        return buffer.ToArray();
    }

    private static string HeaderJson(CheckpointHeader header) => JsonSerializer.Serialize(header, Core.Models.Json.Compact);

    [Fact]
    public void A_small_file_claiming_a_huge_section_or_header_is_refused_before_anything_is_allocated()
    {
        using var folder = new TempFolder();
        var (header, _) = TinyCheckpoint(folder);
        var claims2GB = Forged(HeaderJson(header), w => { w.Write(1); w.Write(CheckpointSections.Generator); w.Write(2_000_000_000L); w.Write(new byte[512]); });
        Assert.InRange(claims2GB.Length, 100, 2048);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(claims2GB)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("section 'generator' claims 2000000000 bytes but only 512 remain", error.Message);
        Assert.True(allocated < 4_000_000, $"{allocated} bytes allocated to refuse a 1 KB file");

        // A header length of a gigabyte, and a section count of millions.
        var hugeHeader = "IGCKPT01"u8.ToArray().Concat(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x04 }).Concat(new byte[100]).ToArray();
        Assert.Contains("the header claims 1073741824 bytes, over the limit of 65536",
            Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(hugeHeader))).Message);
        var manySections = Forged(HeaderJson(header), w => w.Write(5_000_000));
        Assert.Contains("5000000 sections, outside 0..64", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(manySections))).Message);
    }

    [Fact]
    public void A_header_describing_a_model_past_the_limits_is_refused_before_the_model_is_built()
    {
        using var folder = new TempFolder();
        var (header, sections) = TinyCheckpoint(folder);
        // ngf 1500 at 32x32 would be a 1.2 GB generator built before its weights were found not to fit.
        var wide = Write(header with { Spec = header.Spec with { Ngf = 1500 } }, sections);
        var error = Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(wide)));
        Assert.Contains("checkpoint header: ngf 1500 is outside 1..1024", error.Message);
        var large = Write(header with { Spec = header.Spec with { ImageSize = 64, Ngf = 1024 } }, sections);
        Assert.Contains("over the limit of 100,000,000", Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(large))).Message);
        var negative = Write(header with { Step = -5 }, sections);
        Assert.Contains("must not be negative", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(negative))).Message);

        // Nulls the types rule out, class lists that do not fit the spec, and a file that ends between sections: each an
        // InvalidDataException naming the fault (a NullReferenceException, an index out of range on a later request, or
        // an EndOfStreamException the callers do not expect, before).
        var json = System.Text.Json.Nodes.JsonNode.Parse(HeaderJson(header))!.AsObject();
        json["spec"] = null;
        Assert.Contains("must not be null", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(Forged(json.ToJsonString(), w => w.Write(0))))).Message);
        var oneName = Write(header with { Spec = header.Spec with { Classes = 2 }, Classes = ["a"] }, sections);
        Assert.Contains("1 class names and 0 class sizes for a model of 2 classes", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(oneName))).Message);
        var threeSizes = Write(header with { Spec = header.Spec with { Classes = 2 }, Classes = ["a", "b"], ClassSizes = [1, 2, 3] }, sections);
        Assert.Contains("3 class sizes", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(threeSizes))).Message);
        var headerOnly = Forged(HeaderJson(header), _ => { });
        Assert.Contains("ends early (truncated)", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(headerOnly))).Message);
        var cutAtSection = Write(header, sections);
        // Cut inside the second section's 8-byte length, after its name (a one-byte length prefix and the name).
        int cutAt = Write(header, sections.Take(1)).Length + 1 + Encoding.UTF8.GetByteCount(sections.ElementAt(1).Key) + 3;
        Assert.Contains("ends early", Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(cutAtSection[..cutAt]))).Message);
    }

    /// <summary>
    /// Resuming reads the run's own sections, checked as loading is: a random state of another length (a 4-byte one
    /// claiming 2 GiB), a moving-average count cut short, or a section missing is InvalidDataException naming it.
    /// </summary>
    [Fact]
    public void A_resume_from_sections_that_do_not_fit_is_refused_naming_the_section()
    {
        using var folder = new TempFolder();
        var (header, sections) = TinyCheckpoint(folder);
        using var data = SyntheticShapes.Generate(32, 32, 1, seed: 2);
        string checkpointPath = folder.File("run/" + Checkpoint.FileName);
        string Resume(IEnumerable<KeyValuePair<string, byte[]>> changed)
        {
            File.WriteAllBytes(checkpointPath, Write(header, changed));
            return Assert.Throws<InvalidDataException>(() => Trainer.Run(new TrainRequest
            {
                Data = data, Spec = header.Spec, RunFolder = folder.File("run"), Resume = true,
                Options = new TrainOptions { MaxSteps = 4, BatchSize = 16, Seed = 3 },
            })).Message;
        }
        IEnumerable<KeyValuePair<string, byte[]>> With(string name, byte[] bytes) => sections.Select(kv => kv.Key == name ? new(name, bytes) : kv);
        Assert.Contains("section 'rng' holds 4 bytes", Resume(With(CheckpointSections.Rng, [0xC0, 0xFF, 0xFF, 0x7F])));
        Assert.Contains($"no '{CheckpointSections.Rng}' section", Resume(sections.Where(kv => kv.Key != CheckpointSections.Rng)));
        Assert.Contains($"section '{CheckpointSections.GeneratorAverageImages}'", Resume(With(CheckpointSections.GeneratorAverageImages, sections[CheckpointSections.GeneratorAverageImages][..3])));
        Assert.Contains($"no '{CheckpointSections.Discriminator}' section", Resume(sections.Where(kv => kv.Key != CheckpointSections.Discriminator)));
        File.WriteAllBytes(checkpointPath, Write(header, sections)); // the untouched sections resume
        Assert.Equal(4, Trainer.Run(new TrainRequest
        {
            Data = data, Spec = header.Spec, RunFolder = folder.File("run"), Resume = true, Options = new TrainOptions { MaxSteps = 4, BatchSize = 16, Seed = 3 },
        }).Steps);
    }

    [Fact]
    public void Weights_that_do_not_fit_the_headers_spec_are_refused_naming_the_section()
    {
        using var folder = new TempFolder();
        var (header, sections) = TinyCheckpoint(folder);
        // The header says ngf 16; the weights are ngf 8's: same names, other shapes.
        var mismatched = Write(header with { Spec = header.Spec with { Ngf = 16 } }, sections);
        var error = Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(mismatched)));
        Assert.Contains("section 'generator.ema' does not fit the model its header describes", error.Message); // the average, sampled first
        var truncated = Write(header, sections);
        Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(truncated[..(truncated.Length - 100)])));
        var noGenerator = Write(header, sections.Where(kv => !kv.Key.StartsWith("generator", StringComparison.Ordinal)));
        Assert.Contains("no 'generator' section", Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(noGenerator))).Message);

        // A latent prior is a VAE's: on this DCGAN it is refused, as is one cut short, before anything is folded.
        int nz = header.Spec.LatentSize;
        var identity = Enumerable.Range(0, nz * nz).Select(i => i % (nz + 1) == 0 ? 1.0 : 0.0).ToArray();
        using var prior = new MemoryStream();
        using (var writer = new BinaryWriter(prior, Encoding.UTF8, leaveOpen: true)) new LatentPrior(new double[nz], identity, nz).Write(writer);
        var withPrior = Write(header, sections.Append(new(CheckpointSections.LatentPrior, prior.ToArray())));
        Assert.Contains("a latent prior belongs to a VAE, not to a DCGAN", Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(withPrior))).Message);
        var shortPrior = Write(header, sections.Append(new(CheckpointSections.LatentPrior, prior.ToArray()[..^8])));
        Assert.Contains("the latent prior has", Assert.Throws<InvalidDataException>(() => GeneratorCheckpoint.Load(new MemoryStream(shortPrior))).Message);
    }

    [Fact]
    public void Loading_a_generator_reads_its_sections_and_seeks_past_the_others()
    {
        using var folder = new TempFolder();
        var (header, sections) = TinyCheckpoint(folder);
        var file = Write(header, sections);
        using var counted = new CountingStream(new MemoryStream(file));
        using (GeneratorCheckpoint.Load(counted)) { }
        long generator = sections[CheckpointSections.Generator].Length + sections[CheckpointSections.GeneratorAverage].Length;
        // The generator's and its average's bytes and a little framing, not the discriminator's, the optimizers' or the RNG's.
        Assert.InRange(counted.BytesRead, generator, generator + 4096);
        Assert.True(file.Length > 3 * generator, $"checkpoint {file.Length} bytes, generator {generator}");
    }

    // ---- divergence ----

    /// <summary>A checkpoint whose generator weights are NaN: the next step's losses are NaN, every time.</summary>
    private static void PoisonGenerator(string checkpointPath)
    {
        var (header, sections) = Checkpoint.Read(checkpointPath);
        using var generator = ModelFamily.For(header.Spec.Kind).CreateGenerator(header.Spec);
        Checkpoint.LoadModule(generator.AsModule, sections[CheckpointSections.Generator], CheckpointSections.Generator);
        using (torch.no_grad())
            foreach (var parameter in generator.AsModule.parameters()) parameter.fill_(double.NaN);
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) generator.AsModule.save(writer);
        sections[CheckpointSections.Generator] = buffer.ToArray();
        File.WriteAllBytes(checkpointPath, Write(header, sections));
    }

    [Fact]
    public void A_nan_loss_stops_the_run_as_diverged_keeping_the_last_checkpoint_unchanged()
    {
        using var folder = new TempFolder();
        using var data = SyntheticShapes.Generate(64, 32, 1, seed: 2);
        TrainRequest Request(long steps, bool resume) => new()
        {
            Data = data, Spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 }, RunFolder = folder.File("run"), Resume = resume,
            Options = new TrainOptions { MaxSteps = steps, BatchSize = 16, Seed = 3 },
        };
        var first = Trainer.Run(Request(4, resume: false));
        PoisonGenerator(first.CheckpointPath);
        var poisoned = File.ReadAllBytes(first.CheckpointPath);
        int metricLines = File.ReadAllLines(Path.Combine(first.RunFolder, "metrics.jsonl")).Length;

        var diverged = Trainer.Run(Request(12, resume: true));
        Assert.Equal(StopReason.Diverged, diverged.StopReason);
        Assert.StartsWith("diverged at step 5: loss_", diverged.Divergence);
        Assert.Contains("is NaN; the checkpoint at step 4 is kept", diverged.Divergence);
        Assert.Equal(4, diverged.Steps);
        Assert.Equal(poisoned, File.ReadAllBytes(diverged.CheckpointPath));
        Assert.Equal(metricLines, File.ReadAllLines(Path.Combine(first.RunFolder, "metrics.jsonl")).Length); // no NaN line written
    }

    // ---- the training step in storage ----

    private static async Task<(BlobServiceClient storage, string datasetVersion)> DatasetAsync(AzuriteFixture azurite, string dataset)
    {
        var storage = azurite.Client();
        await Drops.UploadImagesAsync(storage, dataset, 0, 32);
        var ingest = await new DatasetIngestor(storage).IngestAsync(new IngestRequest(dataset, "run-a", null));
        Assert.Null(ingest.Error);
        return (storage, ingest.DatasetVersion);
    }

    private static ChunkRequest Chunk(string dataset, string datasetVersion, int chunk, long fromStep) => new()
    {
        Dataset = dataset, RunId = "run-a", DatasetVersion = datasetVersion, Chunk = chunk, FromStep = fromStep, ChunkSteps = 2, ChunkTime = TimeSpan.FromMinutes(5),
        Settings = new TrainSettings(ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 8 },
            new TrainOptions { MaxSteps = 100, BatchSize = 16, Seed = 3 }),
    };

    /// <summary>
    /// A run with clusters on an unlabelled drop trains class-conditionally on them, clustered in the feature space of the
    /// dataset version's extractor (stored by the first chunk, so its evaluation scores in the same one), and its next
    /// chunk resumes on the same classes.
    /// </summary>
    [Fact]
    public async Task A_run_with_clusters_trains_on_the_clusters_of_the_dataset_versions_extractor()
    {
        using var azurite = new AzuriteFixture();
        string dataset = "clusters-" + Guid.NewGuid().ToString("N")[..8];
        var (storage, datasetVersion) = await DatasetAsync(azurite, dataset);
        var trainer = new RunTrainer(storage);
        ChunkRequest Clustered(int chunk, long fromStep)
        {
            var request = Chunk(dataset, datasetVersion, chunk, fromStep);
            return request with { Settings = request.Settings with { Options = request.Settings.Options with { Clusters = 2 } }, ExtractorSteps = 20 };
        }
        var first = await trainer.TrainChunkAsync(Clustered(0, 0));
        Assert.Equal(2, first.Step);
        var datasets = storage.GetBlobContainerClient(StorageLayout.DatasetsContainer);
        Assert.True(await datasets.GetBlobClient(StorageLayout.QualityExtractor(dataset, datasetVersion)).ExistsAsync());
        var checkpoints = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);
        async Task<CheckpointHeader> HeaderAsync(string runId)
        {
            var blob = checkpoints.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId));
            using var bytes = new MemoryStream((await blob.DownloadContentAsync()).Value.Content.ToArray());
            return Checkpoint.Read(bytes, new HashSet<string>()).header;
        }
        var header = await HeaderAsync("run-a");
        Assert.Equal(2, header.Spec.Classes);
        Assert.Equal(["cluster-01", "cluster-02"], header.Classes);
        var second = await trainer.TrainChunkAsync(Clustered(1, 2));
        Assert.Equal(4, second.Step);
        Assert.Equal(["cluster-01", "cluster-02"], (await HeaderAsync("run-a")).Classes);

        Assert.Equal(datasetVersion, header.ClustersFrom);

        // A new run on the same version warm-starts from a model published from this run, on the same clusters.
        var registry = new ModelRegistry(storage);
        var publisher = new RunPublisher(storage, registry);
        var always = new PublishPolicy { Mode = PublishMode.Always };
        Assert.Equal("v0001", (await publisher.PublishAsync(new PublishRequest(dataset, "run-a", datasetVersion, [], 4) { Policy = always })).Version);
        var card = (await registry.ReadCardAsync(dataset, "v0001"))!;
        Assert.Equal(datasetVersion, card.ClustersFrom);
        Assert.Equal($"warm start from {dataset}/v0001 (step 4)", (await trainer.TrainChunkAsync(Clustered(0, 0) with { RunId = "run-b" })).Start);

        // A second dataset version goes on with the first version's clusters: its images labelled by the nearest of their
        // centres, in the first version's feature space, and a resumed chunk finds them again.
        for (int i = 32; i < 48; i++) await Drops.UploadAsync(storage, dataset, $"batch0/img{i:D3}.png", Drops.Png(i)); // one folder: still unlabelled
        var grown = await new DatasetIngestor(storage).IngestAsync(new IngestRequest(dataset, "run-c", null));
        Assert.Null(grown.Error);
        var packed = new PackedDatasets(storage);
        using var firstShards = DatasetLoader.ReadShards(await packed.DownloadAsync(dataset, datasetVersion));
        using var grownShards = DatasetLoader.ReadShards(await packed.DownloadAsync(dataset, grown.DatasetVersion));
        Assert.Equal(48, grownShards.Count);
        using var firstReference = await new QualityReferences(storage).GetAsync(dataset, datasetVersion, firstShards, 20);
        using var firstClusters = ImageClusters.Label(firstShards, 2, firstReference.Extractor);
        // Chunks cluster from the version's stored training features, without a feature pass: the same clusters.
        using (var fromStored = ImageClusters.Label(firstShards, 2, firstReference.Reference.Training))
            Assert.Equal(firstClusters.Labels!.data<long>().ToArray(), fromStored.Labels!.data<long>().ToArray());
        using var carried = ImageClusters.LabelLike(grownShards, firstClusters, firstReference.Extractor, out _)!;
        ChunkRequest OnGrown(int chunk, long fromStep) => Clustered(chunk, fromStep) with { RunId = "run-c", DatasetVersion = grown.DatasetVersion };
        string? grownStart = (await trainer.TrainChunkAsync(OnGrown(0, 0))).Start;
        Assert.True(grownStart == $"warm start from {dataset}/v0001 (step 4), on the clusters of dataset version {datasetVersion}", grownStart);
        var grownHeader = await HeaderAsync("run-c");
        Assert.Equal(datasetVersion, grownHeader.ClustersFrom);
        Assert.Equal(["cluster-01", "cluster-02"], grownHeader.Classes);
        Assert.Equal(carried.ClassSizes(), grownHeader.ClassSizes);
        Assert.Equal($"{dataset}/v0001", grownHeader.WarmStartedFrom);
        Assert.Equal(4, (await trainer.TrainChunkAsync(OnGrown(1, 2))).Step);
        Assert.Equal(datasetVersion, (await HeaderAsync("run-c")).ClustersFrom);
        Assert.Equal("v0002", (await publisher.PublishAsync(new PublishRequest(dataset, "run-c", grown.DatasetVersion, [], 4) { Policy = always })).Version);
        Assert.Equal(datasetVersion, (await registry.ReadCardAsync(dataset, "v0002"))!.ClustersFrom);

        // Fresh starts, each with its reason: another cluster count, and clusters of a version no longer stored.
        using var folder = new TempFolder();
        string published = folder.File(Checkpoint.FileName);
        await checkpoints.GetBlobClient(StorageLayout.RunCheckpoint(dataset, "run-c")).DownloadToAsync(published);
        async Task<string?> StartAfterAsync(string version, string runId, ModelCard changed)
        {
            await using (var file = File.OpenRead(published))
                await registry.PublishAsync(changed with { Version = version, PublishedAt = DateTimeOffset.UtcNow }, file, null);
            return (await trainer.TrainChunkAsync(OnGrown(0, 0) with { RunId = runId })).Start;
        }
        var v2 = (await registry.ReadCardAsync(dataset, "v0002"))!;
        Assert.Equal($"fresh start: the published v0003 was not trained on this run's clusters (2 of dataset version {grown.DatasetVersion})",
            await StartAfterAsync("v0003", "run-d", v2 with { Options = v2.Options! with { Clusters = 3 } }));
        Assert.Equal("fresh start: the published v0004 was trained on the clusters of dataset version a-gone-version, which is no longer stored",
            await StartAfterAsync("v0004", "run-e", v2 with { ClustersFrom = "a-gone-version" }));
    }

    [Fact]
    public async Task A_chunk_whose_checkpoint_landed_without_its_record_does_not_train_again_and_a_nan_chunk_reports_divergence()
    {
        using var azurite = new AzuriteFixture();
        string dataset = "chunks-" + Guid.NewGuid().ToString("N")[..8];
        var (storage, datasetVersion) = await DatasetAsync(azurite, dataset);
        var trainer = new RunTrainer(storage);
        var runs = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

        // imagegen.train.chunk.duration for this dataset: one per chunk that trained.
        int chunksRecorded = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (instrument.Name == "imagegen.train.chunk.duration") l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "dataset" && Equals(tag.Value, dataset)) Interlocked.Increment(ref chunksRecorded);
        });
        listener.Start();

        var first = await trainer.TrainChunkAsync(Chunk(dataset, datasetVersion, 0, 0));
        Assert.Equal(2, first.Step);
        Assert.Equal(1, Volatile.Read(ref chunksRecorded));
        // The attempt's checkpoint is uploaded, then it dies before its record: the record is gone.
        await runs.GetBlobClient(StorageLayout.RunChunk(dataset, "run-a", 0)).DeleteAsync();
        var again = await trainer.TrainChunkAsync(Chunk(dataset, datasetVersion, 0, 0));
        Assert.Equal(2, again.Step); // not 4: the chunk's two steps were trained once
        Assert.Equal(1, Volatile.Read(ref chunksRecorded)); // and the redelivery trained nothing, so it is no chunk in the metrics
        var checkpoint = runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, "run-a"));
        using (var header = new MemoryStream((await checkpoint.DownloadContentAsync()).Value.Content.ToArray()))
            Assert.Equal(2, Checkpoint.Read(header, new HashSet<string>()).header.Step);
        // A checkpoint behind what the orchestration recorded is refused, not trained from.
        await Assert.ThrowsAsync<InvalidOperationException>(() => trainer.TrainChunkAsync(Chunk(dataset, datasetVersion, 1, 6)));

        // Poisoned weights: the chunk reports divergence, serializes (no NaN in its numbers) and keeps the checkpoint.
        using var folder = new TempFolder();
        string local = folder.File(Checkpoint.FileName);
        await checkpoint.DownloadToAsync(local);
        PoisonGenerator(local);
        await checkpoint.UploadAsync(local, overwrite: true);
        var diverged = await trainer.TrainChunkAsync(Chunk(dataset, datasetVersion, 1, 2));
        Assert.StartsWith("diverged at step 3", diverged.Divergence);
        Assert.False(diverged.Done);
        Assert.Equal(2, diverged.Step);
        Assert.Contains("diverged at step 3", JsonSerializer.Serialize(diverged));
        Assert.Equal(File.ReadAllBytes(local), (await checkpoint.DownloadContentAsync()).Value.Content.ToArray());
    }

    [Theory]
    [InlineData("queue", "Serve__MaxQueuedRequests is 0; it must be in 1..1000000")]
    [InlineData("encodes", "Serve__MaxConcurrentEncodes is 0; it must be in 1..1024")]
    [InlineData("in flight", "Serve__MaxPixelsInFlight is 0; it must be at least 1")]
    [InlineData("warm", "Serve__WarmDatasets is 'cats, Dogs'; it must be a comma-separated list of dataset names (lower-case letters, digits, - and _), and 'Dogs' is not one")]
    [InlineData("warm many", "Serve__WarmDatasets is 'a,b,c'; it must be at most Serve__MaxLoadedModels (2) datasets, each kept loaded")]
    public void Serving_settings_that_could_never_serve_are_refused_at_start_naming_the_setting(string which, string message)
    {
        var options = which switch
        {
            "queue" => new Pipeline.Serve.ServeOptions { MaxQueuedRequests = 0 },
            "encodes" => new Pipeline.Serve.ServeOptions { MaxConcurrentEncodes = 0 },
            "in flight" => new Pipeline.Serve.ServeOptions { MaxPixelsInFlight = 0 },
            "warm many" => new Pipeline.Serve.ServeOptions { WarmDatasets = "a,b,c", MaxLoadedModels = 2 },
            _ => new Pipeline.Serve.ServeOptions { WarmDatasets = "cats, Dogs" },
        };
        var storage = new BlobServiceClient("UseDevelopmentStorage=true");
        var refused = Assert.Throws<ArgumentException>(() => Pipeline.Serve.ServeServices.AddImageGenServing(new Microsoft.Extensions.DependencyInjection.ServiceCollection(), storage, options));
        Assert.Equal(message, refused.Message);
        Pipeline.Serve.ServeServices.AddImageGenServing(new Microsoft.Extensions.DependencyInjection.ServiceCollection(), storage,
            new Pipeline.Serve.ServeOptions { WarmDatasets = "cats, dogs-2" });
    }
}

/// <summary>The pipeline's local disk stays bounded: caches by size and age, crash leftovers by age.</summary>
public class LocalDiskTests
{
    private static string Entry(string root, string kind, string dataset, string version, int bytes, DateTime used)
    {
        string folder = Path.Combine(root, "imagegen-" + kind, "account1", dataset, version);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "shard-0000.bin"), new byte[bytes]);
        Directory.SetLastWriteTimeUtc(folder, used);
        return folder;
    }

    private static string Scratch(string root, string relative, DateTime written)
    {
        string folder = Path.Combine(root, relative);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "checkpoint.ckpt"), new byte[1000]);
        Directory.SetLastWriteTimeUtc(folder, written);
        return folder;
    }

    [Fact]
    public void A_sweep_removes_the_least_recently_used_caches_beyond_the_size_stale_ones_and_crash_leftovers_but_nothing_in_use()
    {
        using var temp = new TempFolder();
        var now = new DateTime(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);
        var limits = new LocalDiskLimits { MaxCacheBytes = 5_000, MaxCacheAge = TimeSpan.FromDays(7), InUseWindow = TimeSpan.FromMinutes(30), ScratchAge = TimeSpan.FromHours(6) };
        string oldest = Entry(temp.Path, "datasets", "cats", "run-1", 10_000, now.AddHours(-5));
        string older = Entry(temp.Path, "quality", "cats", "run-1", 10_000, now.AddHours(-4));
        string recent = Entry(temp.Path, "datasets", "dogs", "run-2", 10_000, now.AddHours(-1));
        string inUse = Entry(temp.Path, "datasets", "owls", "run-3", 10_000, now.AddMinutes(-5));
        string stale = Entry(temp.Path, "quality", "bats", "run-4", 100, now.AddDays(-8));
        string crashedRun = Scratch(temp.Path, Path.Combine("imagegen-runs", "cats-run-1-0-abc"), now.AddHours(-7));
        string runningChunk = Scratch(temp.Path, Path.Combine("imagegen-runs", "dogs-run-2-3-def"), now.AddMinutes(-20));
        string crashedIngest = Scratch(temp.Path, Path.Combine("imagegen-ingest", "cats-run-1-123"), now.AddDays(-1));
        string halfDownload = Scratch(temp.Path, Path.Combine("imagegen-datasets", "account1", "cats", "run-5.partial-0a1b"), now.AddHours(-8));
        string packScratch = Scratch(temp.Path, "imagegen-pack-0123", now.AddHours(-9));
        string unrelated = Scratch(temp.Path, "someone-elses-folder", now.AddDays(-30));

        var sweep = LocalDisk.Sweep(limits, temp.Path, now);

        // 40,100 cached bytes against 5,000: least recently used first, the stale one among them; the one read five
        // minutes ago stays although the total is still over (a chunk may be reading it).
        foreach (var removed in new[] { stale, oldest, older, recent }) Assert.False(Directory.Exists(removed), removed);
        Assert.True(Directory.Exists(inUse));
        Assert.Equal(4, sweep.CacheEntriesRemoved);
        Assert.Equal(10_000, sweep.CacheBytesKept);
        foreach (var leftover in new[] { crashedRun, crashedIngest, halfDownload, packScratch }) Assert.False(Directory.Exists(leftover), leftover);
        Assert.Equal(4, sweep.ScratchRemoved);
        Assert.True(Directory.Exists(runningChunk));
        Assert.True(Directory.Exists(unrelated));
        Assert.Equal(30_100 + 4 * 1000, sweep.BytesFreed);
    }

    [Fact]
    public void Scratch_of_a_process_that_is_gone_is_removed_at_once_and_a_live_ones_is_kept()
    {
        using var temp = new TempFolder();
        var now = DateTime.UtcNow;
        using var gone = System.Diagnostics.Process.Start("true")!;
        gone.WaitForExit();
        string dead = Scratch(temp.Path, Path.Combine("imagegen-runs", $"pid{gone.Id}-cats-run-1-0-abc"), now);
        string deadPartial = Scratch(temp.Path, Path.Combine("imagegen-datasets", "account1", "cats", $"run-1.partial-pid{gone.Id}-0a1b"), now);
        string mine = Scratch(temp.Path, Path.Combine("imagegen-runs", LocalDisk.OwnedName("dogs-run-2-0-def")), now);
        string unowned = Scratch(temp.Path, Path.Combine("imagegen-ingest", "owls-run-3-123"), now);
        var sweep = LocalDisk.Sweep(new LocalDiskLimits(), temp.Path, now);
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(deadPartial));
        Assert.True(Directory.Exists(mine));
        Assert.True(Directory.Exists(unowned)); // no owner named: only its age can say it was left behind
        Assert.Equal(2, sweep.ScratchRemoved);
    }
}
