using System.Formats.Tar;
using System.IO.Compression;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Tests;

/// <summary>The pieces of the pipeline's steps that need no storage: options from JSON, and archives.</summary>
public class PipelineStepTests
{
    [Fact]
    public void The_issue_example_imagegen_json_reads_into_spec_and_options()
    {
        var values = TrainSettings.ParseJsonObject("{\"model\": \"dcgan\", \"imageSize\": 32, \"channels\": 1, \"maxSteps\": 2000, \"batchSize\": 64, \"timeBudget\": \"10m\", \"optimizer\": \"rmsprop\"}", "imagegen.json");
        var (spec, options) = TrainSettings.FromValues(values, "imagegen.json");
        Assert.Equal(ModelKind.Dcgan, spec.Kind);
        Assert.Equal(2000, options.MaxSteps);
        Assert.Equal(64, options.BatchSize);
        Assert.Equal(TimeSpan.FromMinutes(10), options.TimeBudget);
        Assert.Equal(OptimizerKind.Rmsprop, options.Optimizer);
        var vae = TrainSettings.FromValues(TrainSettings.ParseJsonObject("{\"model\": \"vae\", \"loss\": \"mse\", \"klWeight\": 0.5}", "x"), "x");
        Assert.Equal(ModelSpec.DefaultFor(ModelKind.Vae).LatentSize, vae.Spec.LatentSize);
        Assert.Equal(0.5, vae.Options.KlWeight);
    }

    [Theory]
    [InlineData("{\"epoch\": 3}", "imagegen.json: unknown key 'epoch'; known keys: model, imageSize")]
    [InlineData("{\"imageSize\": 48}", "imagegen.json: imageSize '48' is not one of 32, 64, 128")]
    [InlineData("{\"batchSize\": true}", "imagegen.json: batchSize 'true' is not an integer in 1..4096")]
    [InlineData("{\"model\": \"dcgan\", \"loss\": \"mse\"}", "imagegen.json: loss 'mse' is for VAEs")]
    [InlineData("{\"augment\": \"translation,blur\"}", "imagegen.json: augment 'translation,blur' is not off, all, or a comma-separated set of color, translation, cutout")]
    [InlineData("{\"model\": \"vae\", \"augment\": \"cutout\"}", "imagegen.json: augment cutout: augmentation feeds a GAN's discriminator; a VAE takes 'off'")]
    [InlineData("{\"model\": \"vae\", \"ada\": true}", "imagegen.json: ada true: the adaptive augmentation feeds a GAN's discriminator; a VAE takes false")]
    [InlineData("{\"fitPrior\": true}", "imagegen.json: fitPrior true: the prior is fitted to an encoder's latents; a DCGAN has none and takes false")]
    [InlineData("{\"ada\": true, \"augment\": \"off\"}", "imagegen.json: ada true adapts how often augment's transformations apply, and augment 'off' names none")]
    [InlineData("{\"model\": \"vae\", \"modeSeeking\": 1}", "imagegen.json: modeSeeking 1: the mode-seeking term is part of a GAN generator's loss; a VAE takes 0")]
    [InlineData("{\"modeSeeking\": -1}", "imagegen.json: modeSeeking '-1' is not a number in [0, 100]")]
    [InlineData("{\"xflip\": \"sometimes\"}", "imagegen.json: xflip 'sometimes' is not true or false")]
    [InlineData("{\"conditional\": 2}", "imagegen.json: conditional '2' is not true or false")]
    [InlineData("{\"warmStart\": []}", "imagegen.json: 'warmStart' must be a number, a string or true/false, not array")]
    [InlineData("[1, 2]", "imagegen.json must be a JSON object")]
    [InlineData("{\"maxSteps\": ", "imagegen.json is not valid JSON")]
    [InlineData("{\"maxSteps\": 100, \"maxSteps\": 500000}", "imagegen.json: 'maxSteps' is given twice; keep one")]
    public void Bad_imagegen_json_is_an_error_naming_the_key_and_what_it_accepts(string json, string expected)
    {
        var error = Assert.Throws<OptionException>(() => TrainSettings.FromValues(TrainSettings.ParseJsonObject(json, "imagegen.json"), "imagegen.json"));
        Assert.StartsWith(expected, error.Message.Replace("imagegen.json: imagegen.json", "imagegen.json"));
    }

    [Fact]
    public void Options_written_with_a_byte_order_mark_read_as_without()
    {
        var settings = TrainSettings.FromValues(TrainSettings.ParseJsonObject("\uFEFF{\"maxSteps\": 7}", "imagegen.json"), "imagegen.json");
        Assert.Equal(7, settings.Options.MaxSteps);
    }

    [Fact]
    public void Small_data_options_read_from_json_with_real_booleans_and_sets()
    {
        var settings = TrainSettings.FromValues(TrainSettings.ParseJsonObject(
            "{\"augment\": \"cutout, translation\", \"xflip\": true, \"conditional\": false, \"warmStart\": false, \"imageSize\": 128}", "imagegen.json"), "imagegen.json");
        Assert.Equal(Augmentations.Cutout | Augmentations.Translation, settings.Options.Augment);
        Assert.True(settings.Options.XFlip);
        Assert.False(settings.Options.Conditional);
        Assert.False(settings.Options.WarmStart);
        Assert.Equal(128, settings.Spec.ImageSize);
        var all = TrainSettings.FromValues(new Dictionary<string, string> { ["augment"] = "all" }, "request");
        Assert.Equal(Augmentations.Color | Augmentations.Translation | Augmentations.Cutout, all.Options.Augment);
        Assert.True(all.Options.WarmStart); // on unless turned off
        Assert.Equal(10_000, all.Options.ResolvedEmaImages(ModelKind.Dcgan)); // GANs sample their moving average by default
        Assert.False(all.Options.Ada);
        var ada = TrainSettings.FromValues(new Dictionary<string, string> { ["ada"] = "true" }, "request");
        Assert.True(ada.Options.Ada);
        Assert.Equal(Augmentations.Color | Augmentations.Translation | Augmentations.Cutout, ada.Options.ResolvedAugment(ModelKind.Dcgan)); // ADA adapts all three unless told which
        var adaCutout = TrainSettings.FromValues(new Dictionary<string, string> { ["ada"] = "true", ["augment"] = "cutout" }, "request");
        Assert.Equal(Augmentations.Cutout, adaCutout.Options.ResolvedAugment(ModelKind.Dcgan));
    }

    [Fact]
    public void Models_find_clusters_by_default_only_in_unlabelled_data_with_enough_images_per_cluster()
    {
        int enough = 10 * TrainOptions.MinImagesPerDefaultCluster;
        var defaults = new TrainOptions();
        foreach (var kind in new[] { ModelKind.Vae, ModelKind.Dcgan })
        {
            Assert.Equal(10, defaults.ResolvedClusters(kind, enough, labelled: false));
            Assert.Equal(0, defaults.ResolvedClusters(kind, enough - 1, labelled: false));
            Assert.Equal(0, defaults.ResolvedClusters(kind, enough, labelled: true));
            Assert.Equal(0, (defaults with { Conditional = false }).ResolvedClusters(kind, enough, labelled: false));
        }
        Assert.Equal(0, (defaults with { Clusters = 0 }).ResolvedClusters(ModelKind.Vae, enough, labelled: false));
        Assert.Equal(4, (defaults with { Clusters = 4 }).ResolvedClusters(ModelKind.Dcgan, 50, labelled: false));
    }

    [Fact]
    public void A_vaes_beta_defaults_below_1_only_where_it_samples_from_a_fitted_prior_and_more_so_without_classes()
    {
        var vae = ModelFamily.For(ModelKind.Vae).DefaultSpec(32, 1);
        var conditional = vae with { Classes = 3 };
        var defaults = new TrainOptions();
        Assert.Equal(0.05, defaults.ResolvedKlWeight(vae));
        Assert.Equal(0.1, defaults.ResolvedKlWeight(conditional));
        var fromNormal = TrainSettings.FromValues(new Dictionary<string, string> { ["fitPrior"] = "false" }, "request").Options;
        Assert.Equal(1.0, fromNormal.ResolvedKlWeight(vae));
        Assert.Equal(1.0, fromNormal.ResolvedKlWeight(conditional));
        Assert.Equal(2.0, (defaults with { KlWeight = 2 }).ResolvedKlWeight(conditional)); // a set beta is kept
        Assert.Equal(1.0, defaults.ResolvedKlWeight(ModelFamily.For(ModelKind.Dcgan).DefaultSpec(32, 1))); // no KL term to weigh
    }

    [Fact]
    public void Cli_flags_are_the_kebab_case_of_the_json_keys() =>
        Assert.Equal(["--model", "--image-size", "--max-steps", "--kl-weight", "--beta1", "--sample-every"],
            new[] { "model", "imageSize", "maxSteps", "klWeight", "beta1", "sampleEvery" }.Select(TrainSettings.CliFlag));

    [Fact]
    public void A_tar_gz_gives_its_images_and_refuses_traversal_links_and_oversize_members_by_name()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            void Add(string name, byte[] data) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            Add("good/a.png", Drops.Png(1));
            Add("../evil.png", Drops.Png(2));
            Add("/etc/passwd.png", Drops.Png(3));
            Add("big.png", new byte[300_000]);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "link.png") { LinkName = "/etc/shadow" });
        }
        buffer.Position = 0;
        var members = ArchiveReader.Read("drop.tar.gz", buffer, new ArchiveLimits { MaxEntryBytes = 100_000 }).ToList();
        Assert.Equal(Drops.Png(1), members.Single(m => m.Name == "drop.tar.gz:good/a.png").Data);
        Assert.Contains("'..'", members.Single(m => m.Name == "drop.tar.gz:../evil.png").Rejection);
        Assert.Contains("absolute", members.Single(m => m.Name == "drop.tar.gz:/etc/passwd.png").Rejection);
        Assert.Contains("over the 100000-byte limit", members.Single(m => m.Name == "drop.tar.gz:big.png").Rejection);
        Assert.Contains("SymbolicLink", members.Single(m => m.Name == "drop.tar.gz:link.png").Rejection);
    }

    [Fact]
    public void A_zip_bomb_is_refused_without_expanding_it()
    {
        byte[] zip = PipelineIntegrationTests.ZipWithTraps(first: 0, count: 2); // holds 50 MB of zeros in one member
        long before = GC.GetAllocatedBytesForCurrentThread();
        var members = ArchiveReader.Read("drop.zip", new MemoryStream(zip)).ToList();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("ratio", members.Single(m => m.Name == "drop.zip:zeros.png").Rejection);
        Assert.Equal(2, members.Count(m => m.Data is not null));
        Assert.True(allocated < 4_000_000, $"reading the archive allocated {allocated} bytes");
    }

    [Fact]
    public void The_custom_status_stays_under_16_KB_with_the_longest_names_and_errors()
    {
        var worst = Enumerable.Range(0, 500).Select(i => new ImageGen.Core.Data.Rejection(new string('n', 1024) + i, new string('r', 5000))).ToList();
        var status = new ImageGen.Pipeline.Orchestration.TrainingStatus
        {
            State = "failed", RunId = new string('x', 32), DatasetVersion = new string('x', 32), Accepted = 0, Rejected = worst.Count,
            FirstRejections = DatasetIngestor.StatusRejections(worst), Error = new string('e', 2003) + "...",
            Losses = new() { ["loss_d"] = 1, ["loss_g"] = 1, ["d_x"] = 1, ["d_g_z"] = 1 }, SampleGrid = new string('s', 200),
            Metrics = Enumerable.Range(0, 12).ToDictionary(i => $"metric{i}", i => (double)i),
        };
        int bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(status).Length;
        Assert.InRange(bytes, 1, 16 * 1024 - 1);
        Assert.Equal(DatasetIngestor.RejectionsInStatus, status.FirstRejections!.Count);
        Assert.EndsWith("0", status.FirstRejections[0].Name); // the end of a name says which file it was
    }

    [Fact]
    public void A_broken_archive_is_one_rejection_naming_it()
    {
        var members = ArchiveReader.Read("broken.zip", new MemoryStream("PK\u0003\u0004 not really a zip"u8.ToArray())).ToList();
        Assert.Equal("broken.zip", Assert.Single(members).Name);
        Assert.Contains("not a readable zip archive", members[0].Rejection);
    }

    [Fact]
    public void A_zip_over_the_member_cap_is_refused_by_name_before_any_member_is_read()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            for (int i = 0; i < 5; i++) { using var entry = zip.CreateEntry($"img{i}.png").Open(); entry.Write(Drops.Png(i)); }
        var members = ArchiveReader.Read("many.zip", new MemoryStream(buffer.ToArray()), new ArchiveLimits { MaxEntries = 3 }).ToList();
        var only = Assert.Single(members);
        Assert.Equal("many.zip", only.Name);
        Assert.Contains("declares 5 members, over the 3-member limit", only.Rejection);
    }

    [Fact]
    public void A_zip64_record_claiming_billions_of_members_is_refused_by_name_from_the_tail()
    {
        var members = ArchiveReader.Read("huge.zip", new MemoryStream(Zip64Claiming(5_000_000_000, PipelineIntegrationTests.ZipWithTraps(0, 2)))).ToList();
        var only = Assert.Single(members);
        Assert.Equal("huge.zip", only.Name);
        Assert.Contains("declares 5000000000 members, over the 200000-member limit", only.Rejection);
    }

    /// <summary>
    /// A 42-byte zip (a zip64 locator and an end record, nothing else) whose locator points past 2^63: refused by name as
    /// one broken archive, not an exception that would fail the whole ingest.
    /// </summary>
    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    [InlineData(0UL)]
    public void A_tiny_zip_whose_zip64_locator_points_anywhere_is_refused_by_name(ulong recordAt)
    {
        using var output = new MemoryStream();
        using (var w = new BinaryWriter(output, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(0x07064b50u); w.Write(0u); w.Write(recordAt); w.Write(1u);
            w.Write(0x06054b50u); w.Write((ushort)0); w.Write((ushort)0); w.Write(ushort.MaxValue); w.Write(ushort.MaxValue);
            w.Write(uint.MaxValue); w.Write(uint.MaxValue); w.Write((ushort)0);
        }
        Assert.Equal(42, output.Length);
        var members = ArchiveReader.Read("tiny.zip", new MemoryStream(output.ToArray())).ToList();
        var only = Assert.Single(members);
        Assert.Equal("tiny.zip", only.Name);
        Assert.Contains("zip64 end-of-central-directory record is said to start at byte", only.Rejection);
    }

    /// <summary>The zip's end record rewritten as zip64: a zip64 record declaring <paramref name="entries"/>, its locator, and a saturated classic record.</summary>
    private static byte[] Zip64Claiming(ulong entries, byte[] zip)
    {
        int end = zip.Length - 22; // no comment
        uint directoryBytes = BitConverter.ToUInt32(zip, end + 12), directoryAt = BitConverter.ToUInt32(zip, end + 16);
        using var output = new MemoryStream();
        using var w = new BinaryWriter(output);
        w.Write(zip, 0, end);
        long recordAt = output.Position;
        w.Write(0x06064b50u); w.Write(44UL); w.Write((ushort)45); w.Write((ushort)45); w.Write(0u); w.Write(0u);
        w.Write(entries); w.Write(entries); w.Write((ulong)directoryBytes); w.Write((ulong)directoryAt);
        w.Write(0x07064b50u); w.Write(0u); w.Write((ulong)recordAt); w.Write(1u);
        w.Write(0x06054b50u); w.Write((ushort)0); w.Write((ushort)0); w.Write(ushort.MaxValue); w.Write(ushort.MaxValue);
        w.Write(uint.MaxValue); w.Write(uint.MaxValue); w.Write((ushort)0);
        w.Flush();
        return output.ToArray();
    }

    [Fact]
    public void Tar_metadata_and_skipped_members_count_against_the_archives_byte_budget()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../skipped.bin") { DataStream = new MemoryStream(new byte[900_000]) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "too-big.bin") { DataStream = new MemoryStream(new byte[900_000]) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "folder/", new Dictionary<string, string> { ["comment"] = new string('c', 900_000) }));
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "good.png") { DataStream = new MemoryStream(Drops.Png(1)) });
        }
        buffer.Position = 0;
        var members = ArchiveReader.Read("drop.tar.gz", buffer, new ArchiveLimits { MaxEntryBytes = 100_000, MaxExpandedBytes = 2_500_000 }).ToList();
        Assert.Contains("'..'", members.Single(m => m.Name == "drop.tar.gz:../skipped.bin").Rejection);
        Assert.Contains("100000-byte limit", members.Single(m => m.Name == "drop.tar.gz:too-big.bin").Rejection);
        Assert.DoesNotContain(members, m => m.Name == "drop.tar.gz:good.png");
        Assert.Equal("drop.tar.gz", members[^1].Name);
        Assert.Contains("expands past its 2500000-byte total limit", members[^1].Rejection);
    }

    [Fact]
    public void An_oversized_tar_metadata_header_rejects_that_archive_by_name()
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, leaveOpen: true))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "first.png") { DataStream = new MemoryStream(Drops.Png(1)) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "meta.png", new Dictionary<string, string> { ["comment"] = new string('c', 2_000_000) })
                { DataStream = new MemoryStream(Drops.Png(2)) });
        }
        buffer.Position = 0;
        var members = ArchiveReader.Read("drop.tar", buffer).ToList();
        Assert.Equal(Drops.Png(1), members.Single(m => m.Name == "drop.tar:first.png").Data); // what came before is kept
        Assert.Equal("drop.tar", members[^1].Name);
        Assert.Contains("PAX extended header of 2000", members[^1].Rejection);
        Assert.Contains("over the 1048576-byte limit for tar metadata", members[^1].Rejection);
        Assert.Equal(2, members.Count);
    }

    [Fact]
    public void A_tar_metadata_size_in_base_256_is_read_whole_and_refused_by_its_size()
    {
        // 0x80 marks base-256; the remaining bytes are the size, big-endian: 0xC8 0x00 0x00 0x00 0x01 is 858,993,459,201.
        var members = ArchiveReader.Read("drop.tar", new MemoryStream(TarWithAnOversizedHeader(base256Size: [0x80, 0, 0, 0, 0, 0, 0, 0xC8, 0, 0, 0, 1]))).ToList();
        Assert.Contains("PAX extended header of 858993459201 bytes", Assert.Single(members).Rejection);
    }

    /// <summary>
    /// A tar whose first header is a PAX extended header declaring 8 GB of metadata (or the size given in base-256): the
    /// tar reader itself throws InvalidOperationException on it.
    /// </summary>
    public static byte[] TarWithAnOversizedHeader(byte[]? base256Size = null)
    {
        var header = new byte[512];
        void Put(int at, string text) => System.Text.Encoding.ASCII.GetBytes(text).CopyTo(header, at);
        Put(0, "PaxHeaders/huge"); Put(100, "0000644\0"); Put(108, "0000000\0"); Put(116, "0000000\0");
        Put(124, "77777777777\0"); Put(136, "00000000000\0"); Put(156, "x"); Put(257, "ustar\0"); Put(263, "00");
        base256Size?.CopyTo(header, 124);
        Put(148, "        ");
        Put(148, Convert.ToString(header.Sum(b => b), 8).PadLeft(6, '0') + "\0 ");
        return [.. header, .. new byte[4096]];
    }

    [Theory]
    [InlineData("fmnist", true)]
    [InlineData("v0001", true)]
    [InlineData("fmnist\n", false)]
    [InlineData("../x", false)]
    [InlineData("Fmnist", false)]
    [InlineData("", false)]
    public void Names_are_checked_as_whole_safe_segments(string name, bool safe) => Assert.Equal(safe, StorageLayout.IsSafeName(name));
}

/// <summary>Ingest against real storage (Azurite): what a dropped blob may cost, and what a bad one may stop.</summary>
public class IngestHardeningTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private BlobServiceClient Storage => azurite.Client();
    private static string FreshDataset(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>
    /// An identity that may use a container but not create one (every app identity in Azure: the template makes the
    /// containers) is answered 403 by a create even where the container exists; the steps' EnsureExistsAsync goes on, and a
    /// container that is truly missing fails at its first use with 404. Azurite checks a container SAS as Azure checks roles.
    /// </summary>
    [Fact]
    public async Task Steps_that_may_not_create_containers_use_the_ones_the_deployment_made()
    {
        var existing = Storage.GetBlobContainerClient("made-by-template-" + Guid.NewGuid().ToString("N")[..8]);
        await existing.CreateAsync();
        var permissions = Azure.Storage.Sas.BlobContainerSasPermissions.All;
        var asApp = new BlobContainerClient(existing.GenerateSasUri(permissions, DateTimeOffset.UtcNow.AddHours(1)));
        var denied = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => asApp.CreateIfNotExistsAsync());
        Assert.Equal(403, denied.Status);
        await asApp.EnsureExistsAsync();
        await asApp.GetBlobClient("a/checkpoint.ckpt").UploadAsync(BinaryData.FromString("written"), overwrite: true);
        Assert.Equal("written", (await existing.GetBlobClient("a/checkpoint.ckpt").DownloadContentAsync()).Value.Content.ToString());

        var missing = new BlobContainerClient(Storage.GetBlobContainerClient("never-made-" + Guid.NewGuid().ToString("N")[..8])
            .GenerateSasUri(permissions, DateTimeOffset.UtcNow.AddHours(1)));
        await missing.EnsureExistsAsync();
        Assert.Equal(404, (await Assert.ThrowsAsync<Azure.RequestFailedException>(() => missing.GetBlobClient("x").UploadAsync(BinaryData.FromString("x")))).Status);
    }

    /// <summary>A dataset download that fails (here: the version was never packed) leaves no partial folder for retries to pile up.</summary>
    [Fact]
    public async Task A_failed_dataset_download_leaves_no_partial_folder()
    {
        string dataset = FreshDataset("never-packed");
        await Storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).CreateIfNotExistsAsync();
        string folder = StorageLayout.LocalCacheFolder(Storage.Uri, "datasets", dataset, "v-missing");
        for (int attempt = 0; attempt < 2; attempt++)
            Assert.Equal(404, (await Assert.ThrowsAsync<Azure.RequestFailedException>(() => new PackedDatasets(Storage).DownloadAsync(dataset, "v-missing"))).Status);
        string parent = Path.GetDirectoryName(folder)!;
        Assert.Empty(Directory.Exists(parent) ? Directory.GetDirectories(parent, Path.GetFileName(folder) + "*") : []);
    }

    [Fact]
    public async Task A_blob_overwritten_with_a_bigger_one_after_listing_is_skipped_not_read()
    {
        string dataset = FreshDataset("listed");
        await Drops.UploadAsync(Storage, dataset, "a.png", Drops.Png(1));
        await Drops.UploadAsync(Storage, dataset, "b.zip", PipelineIntegrationTests.ZipWithTraps(0, 1));
        await Drops.UploadAsync(Storage, dataset, "same.png", Drops.Png(3));
        var drops = Storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        var listed = new Dictionary<string, BlobItem>();
        await foreach (var blob in drops.GetBlobsAsync(BlobTraits.None, BlobStates.None, StorageLayout.TrainingImagesPrefix(dataset), default)) listed[blob.Name[(dataset.Length + 1)..]] = blob;

        await Drops.UploadAsync(Storage, dataset, "a.png", [.. Drops.Png(1), .. new byte[100_000]]);
        await Drops.UploadAsync(Storage, dataset, "b.zip", PipelineIntegrationTests.ZipWithTraps(0, 9));

        var (data, skipped) = await drops.DownloadAsListedAsync(listed["a.png"]);
        Assert.Null(data);
        Assert.Equal(ListedBlobs.Changed, skipped);
        using var folder = new TempFolder();
        Assert.Equal(ListedBlobs.Changed, await drops.DownloadAsListedToAsync(listed["b.zip"], folder.File("b.zip")));
        Assert.Equal(Drops.Png(3), (await drops.DownloadAsListedAsync(listed["same.png"])).Data);
        await drops.DeleteBlobAsync(listed["same.png"].Name);
        Assert.Equal(ListedBlobs.Deleted, (await drops.DownloadAsListedAsync(listed["same.png"])).Skipped);
    }

    /// <summary>
    /// Ingest reports when it began listing on storage's clock: no earlier than the blobs already written (so the follow-up
    /// check does not take them for new), and a blob written after ingest is newer than it (so the check trains again).
    /// </summary>
    [Fact]
    public async Task Ingest_reports_when_it_began_listing_on_storages_clock()
    {
        string dataset = FreshDataset("listing");
        await Drops.UploadAsync(Storage, dataset, "a/1.png", Drops.Png(1));
        await Drops.UploadAsync(Storage, dataset, "b/2.png", Drops.Png(2));
        var ingestor = new DatasetIngestor(Storage);
        var result = await ingestor.IngestAsync(new IngestRequest(dataset, "v1", null));
        Assert.NotNull(result.ListingStartedAt);
        Assert.True(result.ListingStartedAt >= result.NewestBlobAt, $"listing began {result.ListingStartedAt:O}, newest blob {result.NewestBlobAt:O}");
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // storage's times are whole seconds
        await Drops.UploadAsync(Storage, dataset, "a/0-late.png", Drops.Png(3));
        Assert.True(await ingestor.NewestDropAsync(dataset) > result.ListingStartedAt);
    }

    [Fact]
    public async Task An_oversized_imagegen_json_is_an_error_naming_the_file_and_the_limit()
    {
        string dataset = FreshDataset("options");
        await Drops.UploadAsync(Storage, dataset, "img.png", Drops.Png(1));
        await Drops.UploadAsync(Storage, dataset, StorageLayout.OptionsFile,
            System.Text.Encoding.UTF8.GetBytes("{\"model\": \"dcgan\"" + new string(' ', 70_000) + "}"));
        var result = await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "v1", null));
        Assert.Equal(0, result.Accepted);
        Assert.Contains($"{dataset}/imagegen.json' is 70018 bytes, over the 65536-byte limit", result.Error);
    }

    [Fact]
    public async Task A_broken_archive_is_rejected_by_name_and_the_images_and_archives_beside_it_are_still_ingested()
    {
        string dataset = FreshDataset("broken");
        await Drops.UploadAsync(Storage, dataset, "a.png", Drops.Png(1));
        await Drops.UploadAsync(Storage, dataset, "b-huge-header.tar", PipelineStepTests.TarWithAnOversizedHeader());
        await Drops.UploadAsync(Storage, dataset, "c-not-gzip.tgz", "not gzip data at all"u8.ToArray());
        await Drops.UploadAsync(Storage, dataset, "d.zip", PipelineIntegrationTests.ZipWithTraps(10, 3));
        await Drops.UploadAsync(Storage, dataset, "e.png", Drops.Png(2));
        var result = await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "v1", null));
        Assert.Null(result.Error);
        Assert.Equal(5, result.Accepted); // two loose images and three from the good zip
        var reasons = (await Drops.ManifestAsync(Storage, dataset, "v1")).Rejected.ToDictionary(r => r.Name, r => r.Reason);
        Assert.Contains("header of 8589934591 bytes", reasons["b-huge-header.tar"]);
        Assert.Contains("the archive is broken from here on", reasons["c-not-gzip.tgz"]);
    }

    [Fact]
    public async Task A_labels_json_at_the_dataset_top_names_the_classes_of_loose_and_archived_images()
    {
        string dataset = FreshDataset("labels");
        await Drops.UploadAsync(Storage, dataset, "a.png", Drops.Png(1));
        await Drops.UploadAsync(Storage, dataset, "sub/b.png", Drops.Png(2));
        await Drops.UploadAsync(Storage, dataset, "c.zip", PipelineIntegrationTests.ZipWithTraps(2, 2));
        string[] zipMembers = ["c.zip:inner/shape2.png", "c.zip:inner/shape3.png"];
        var labels = new Dictionary<string, string> { ["a.png"] = "cat", ["sub/b.png"] = "dog", [zipMembers[0]] = "dog" }; // zipMembers[1] has none
        Assert.Null(DropFiles.Rejection("labels.json", System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(labels))));
        await Drops.UploadAsync(Storage, dataset, "labels.json", System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(labels)));

        var result = await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "v1", null));
        Assert.Null(result.Error);
        var manifest = await Drops.ManifestAsync(Storage, dataset, "v1");
        Assert.Equal(["a.png", zipMembers[0], "sub/b.png"], manifest.Sources); // listing order
        Assert.Equal(["cat", "dog"], manifest.Classes);
        Assert.Equal([0, 1, 1], manifest.Labels);
        Assert.Equal("labels.json", manifest.LabelsFile);
        Assert.Equal("labels.json gives it no class; with a labels file every image needs one", Assert.Single(manifest.Rejected, r => r.Name == zipMembers[1]).Reason);

        // A labels file that breaks the rules is refused where it is dropped and, if it got there anyway, by ingest: no image is lost.
        var broken = "{\"a.png\": \"cat, dog\"}"u8.ToArray();
        Assert.StartsWith("labels.json: 'a.png': class 'cat, dog' must be", DropFiles.Rejection("labels.json", broken));
        Assert.StartsWith("not an image or archive name", DropFiles.Rejection("sub/labels.json", broken));
        await Drops.UploadAsync(Storage, dataset, "labels.json", broken);
        Assert.Null((await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "v2", null))).Error);
        manifest = await Drops.ManifestAsync(Storage, dataset, "v2");
        Assert.Equal(4, manifest.Count);
        Assert.Empty(manifest.Classes);
        Assert.EndsWith("classes come from the sub-folders instead", Assert.Single(manifest.Rejected, r => r.Name == "labels.json").Reason);
    }

    [Fact]
    public async Task Ingest_with_a_pixel_budget_smaller_than_one_image_still_accepts_every_image()
    {
        string dataset = FreshDataset("pixels");
        for (int i = 0; i < 6; i++) await Drops.UploadAsync(Storage, dataset, $"img{i}.png", Drops.Png(i));
        var result = await new DatasetIngestor(Storage, DecodeLimits.Default with { MaxPixelsInFlight = 1000 }).IngestAsync(new IngestRequest(dataset, "v1", null));
        Assert.Null(result.Error);
        Assert.Equal(6, result.Accepted);
    }
}
