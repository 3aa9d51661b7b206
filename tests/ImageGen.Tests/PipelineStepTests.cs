using System.Formats.Tar;
using System.IO.Compression;
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
    [InlineData("{\"imageSize\": 48}", "imagegen.json: imageSize '48' is not one of 32, 64")]
    [InlineData("{\"batchSize\": true}", "imagegen.json: 'batchSize' must be a number or a string, not true")]
    [InlineData("{\"model\": \"dcgan\", \"loss\": \"mse\"}", "imagegen.json: loss 'mse' is for VAEs")]
    [InlineData("[1, 2]", "imagegen.json must be a JSON object")]
    [InlineData("{\"maxSteps\": ", "imagegen.json is not valid JSON")]
    public void Bad_imagegen_json_is_an_error_naming_the_key_and_what_it_accepts(string json, string expected)
    {
        var error = Assert.Throws<OptionException>(() => TrainSettings.FromValues(TrainSettings.ParseJsonObject(json, "imagegen.json"), "imagegen.json"));
        Assert.StartsWith(expected, error.Message.Replace("imagegen.json: imagegen.json", "imagegen.json"));
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

    [Theory]
    [InlineData("fmnist", true)]
    [InlineData("v0001", true)]
    [InlineData("fmnist\n", false)]
    [InlineData("../x", false)]
    [InlineData("Fmnist", false)]
    [InlineData("", false)]
    public void Names_are_checked_as_whole_safe_segments(string name, bool safe) => Assert.Equal(safe, StorageLayout.IsSafeName(name));
}
