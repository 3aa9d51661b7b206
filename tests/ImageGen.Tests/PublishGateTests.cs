using System.Net;
using System.Text;
using Azure.Storage.Blobs;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Tests;

/// <summary>Two tiny checkpoints of one dataset, an early and a later one, trained once for the gate tests.</summary>
public sealed class GateFixture : IDisposable
{
    public AzuriteFixture Azurite { get; }
    public TempFolder Folder { get; } = new();
    public string Early { get; }
    public string Later { get; }

    public GateFixture()
    {
        TestImages.EnsureRuntime();
        using var data = SyntheticShapes.Generate(128, 32, 1, seed: 4);
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 16 };
        string Train(string name, int steps) => Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = Folder.File(name), Options = new TrainOptions { MaxSteps = steps, BatchSize = 32, Seed = 1, EmaImages = 0 }, // the raw generator: 30 steps clearly beat 1
        }).CheckpointPath;
        Early = Train("early", 1);
        Later = Train("later", 30);
        Azurite = new AzuriteFixture(); // last: a constructor that throws gets no Dispose, and must leave no process behind
    }

    public void Dispose()
    {
        Azurite.Dispose();
        Folder.Dispose();
    }
}

/// <summary>
/// The evaluate step's scores, its cache of each dataset version's extractor and reference, and the publish gate:
/// candidates, a latest that moved meanwhile, immutable versions, promotion and rollback. Real Azurite, real scoring.
/// </summary>
public class PublishGateTests(GateFixture fixture) : IClassFixture<GateFixture>
{
    private BlobServiceClient Storage => fixture.Azurite.Client();

    private async Task UploadRunAsync(string dataset, string runId, string checkpointPath)
    {
        var runs = Storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);
        await runs.CreateIfNotExistsAsync();
        await runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId)).UploadAsync(checkpointPath, overwrite: true);
    }

    private static PublishRequest Scored(string dataset, string runId, double fd, BaselineScore? baseline, PublishMode mode = PublishMode.IfBetter) =>
        new(dataset, runId, "v-data", [], 1)
        {
            Quality = new QualityScores { ExtractorId = "test", Fd = fd }, Baseline = baseline, Policy = new PublishPolicy { Mode = mode },
        };

    [Fact]
    public async Task Evaluation_scores_in_the_versions_own_feature_space_caches_it_and_rescores_latest_there()
    {
        // A fresh name per run: local caches outlive the emulator, whose port a later run may be given again.
        string dataset = "gate-eval-" + Guid.NewGuid().ToString("N")[..8];
        for (int i = 0; i < 24; i++) await Drops.UploadAsync(Storage, dataset, $"img{i:D2}.png", Drops.Png(i));
        var ingest = await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "run-a", null));
        Assert.Null(ingest.Error);
        await UploadRunAsync(dataset, "run-a", fixture.Later);
        await UploadRunAsync(dataset, "run-b", fixture.Early);
        var evaluator = new RunEvaluator(Storage);

        var first = await evaluator.EvaluateAsync(new EvaluateRequest(dataset, "run-a", ingest.DatasetVersion, Samples: 200, ExtractorSteps: 5));
        Assert.NotNull(first.Quality);
        Assert.Equal(ExtractorInfo.ContrastiveKind, first.Quality.ExtractorKind);
        Assert.Equal(200, first.Quality.GeneratedImages);
        Assert.Equal(24, first.Quality.ReferenceImages);
        Assert.False(first.ReferenceCached);
        Assert.Null(first.Baseline);
        var packed = Storage.GetBlobContainerClient(StorageLayout.DatasetsContainer);
        var extractorBlob = packed.GetBlobClient(StorageLayout.QualityExtractor(dataset, ingest.DatasetVersion));
        var extractorETag = (await extractorBlob.GetPropertiesAsync()).Value.ETag;
        Assert.True(await packed.GetBlobClient(StorageLayout.QualityReference(dataset, ingest.DatasetVersion)).ExistsAsync());

        var published = await new RunPublisher(Storage, new ModelRegistry(Storage)).PublishAsync(
            new PublishRequest(dataset, "run-a", ingest.DatasetVersion, first.Metrics, 30) { Quality = first.Quality });
        Assert.True(published.Latest);

        // Another run on the same dataset version: the stored extractor and reference are reused, and latest (run-a's
        // generator) is scored again in that same space, with the same seeds: the same FD.
        var second = await evaluator.EvaluateAsync(new EvaluateRequest(dataset, "run-b", ingest.DatasetVersion, Samples: 200, ExtractorSteps: 5));
        Assert.True(second.ReferenceCached);
        Assert.Equal(extractorETag, (await extractorBlob.GetPropertiesAsync()).Value.ETag);
        Assert.Equal(first.Quality.ExtractorId, second.Quality!.ExtractorId);
        Assert.Equal(published.Version, second.Baseline!.Version);
        Assert.Equal(first.Quality.Fd, second.Baseline.Fd, precision: 6);
        // The one-step generator scores worse than the thirty-step one.
        Assert.True(second.Quality.Fd > first.Quality.Fd, $"early FD {second.Quality.Fd} vs later {first.Quality.Fd}");
    }

    [Fact]
    public async Task Evaluation_scores_the_held_out_images_as_the_near_copy_baseline_and_neither_extractor_nor_model_sees_them()
    {
        string dataset = "gate-unseen-" + Guid.NewGuid().ToString("N")[..8];
        for (int i = 0; i < 120; i++) await Drops.UploadAsync(Storage, dataset, $"img{i:D3}.png", Drops.Png(i));
        var ingest = await new DatasetIngestor(Storage).IngestAsync(new IngestRequest(dataset, "run-u", null));
        Assert.Null(ingest.Error);
        Assert.InRange(ingest.HeldOut, 1, 24); // about a tenth of 120 (the default share), at most twice that
        await UploadRunAsync(dataset, "run-u", fixture.Later);

        var result = await new RunEvaluator(Storage).EvaluateAsync(new EvaluateRequest(dataset, "run-u", ingest.DatasetVersion, Samples: 200, ExtractorSteps: 5));
        Assert.Equal(ingest.HeldOut, result.Quality!.UnseenImages);
        Assert.NotNull(result.Quality.UnseenNearCopyShare);

        // The same baseline by hand: the stored extractor, trained on the training images alone, and the memorization
        // test of the held-out images against them.
        string folder = await new PackedDatasets(Storage).DownloadAsync(dataset, ingest.DatasetVersion);
        using var training = DatasetLoader.ReadShards(folder);
        using var heldOut = DatasetLoader.ReadHeldOut(folder)!;
        Assert.Equal(120 - ingest.HeldOut, training.Count);
        using var temp = new TempFolder();
        await Storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).GetBlobClient(StorageLayout.QualityExtractor(dataset, ingest.DatasetVersion))
            .DownloadToAsync(temp.File("extractor.bin"));
        using var extractor = FeatureExtractor.Load(temp.File("extractor.bin"));
        Assert.Equal(training.Count, extractor.Info.TrainImages);
        using var trainingFeatures = extractor.Extract(training);
        using var heldOutFeatures = extractor.Extract(heldOut);
        var byHand = Memorization.Of(trainingFeatures, heldOutFeatures);
        Assert.Equal(byHand.NearCopyShare, result.Quality.UnseenNearCopyShare!.Value, precision: 9);
        Assert.Equal(byHand.MedianRatio, result.Quality.UnseenMedianCopyRatio!.Value, precision: 5);
    }

    [Fact]
    public async Task A_worse_run_is_a_candidate_versions_stay_as_published_and_promote_and_rollback_move_latest()
    {
        const string dataset = "gate-moves";
        var registry = new ModelRegistry(Storage);
        var publisher = new RunPublisher(Storage, registry);
        foreach (var run in new[] { "run-1", "run-2", "run-3", "run-4" }) await UploadRunAsync(dataset, run, fixture.Early);

        var v1 = await publisher.PublishAsync(Scored(dataset, "run-1", 10, null));
        Assert.Equal(("v0001", true), (v1.Version, v1.Latest));

        var v2 = await publisher.PublishAsync(Scored(dataset, "run-2", 20, new BaselineScore("v0001", 10)));
        Assert.Equal(("v0002", false), (v2.Version, v2.Latest));
        Assert.Contains("kept as a candidate", v2.Reason);
        Assert.Equal("v0001", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
        var card2 = await registry.ReadCardAsync(dataset, "v0002");
        Assert.False(card2!.Publish!.Passed);
        Assert.Equal(20, card2.Quality!.Fd);

        // A redelivered publish keeps the version as it was first written.
        var models = Storage.GetBlobContainerClient(StorageLayout.ModelsContainer);
        var cardETag = (await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0002")).GetPropertiesAsync()).Value.ETag;
        var again = await publisher.PublishAsync(Scored(dataset, "run-2", 5, new BaselineScore("v0001", 10)));
        Assert.Equal(("v0002", false), (again.Version, again.Latest));
        Assert.Equal(cardETag, (await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0002")).GetPropertiesAsync()).Value.ETag);
        // And finds it complete before exporting anything: the files are never made.
        var stillCandidate = await registry.PublishRunAsync(card2, _ => throw new InvalidOperationException("the model was exported again"), _ => true);
        Assert.Null(stillCandidate);

        var v3 = await publisher.PublishAsync(Scored(dataset, "run-3", 9, new BaselineScore("v0001", 10)));
        Assert.Equal(("v0003", true), (v3.Version, v3.Latest));
        // Scored against v0001, but latest is v0003 by the time it publishes: it must not jump over v0003.
        var v4 = await publisher.PublishAsync(Scored(dataset, "run-4", 5, new BaselineScore("v0001", 10)));
        Assert.Equal(("v0004", false), (v4.Version, v4.Latest));
        Assert.Contains("latest moved", v4.Reason);

        var promoted = await registry.PromoteAsync(dataset, "v0002", DateTimeOffset.UtcNow);
        Assert.Equal("v0002", promoted.Version);
        Assert.Equal(["v0003", "v0001"], promoted.Previous);
        Assert.Equal("v0003", (await registry.RollbackAsync(dataset, DateTimeOffset.UtcNow))!.Version);
        Assert.Equal("v0001", (await registry.RollbackAsync(dataset, DateTimeOffset.UtcNow))!.Version);
        Assert.Null(await registry.RollbackAsync(dataset, DateTimeOffset.UtcNow));
        Assert.Equal("v0001", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
    }

    private static ModelCard Card(string dataset, string version, string checkpointPath) => new()
    {
        Dataset = dataset, Version = version, Spec = Core.Checkpoints.Checkpoint.ReadHeader(checkpointPath).Spec, PublishedAt = DateTimeOffset.UtcNow,
    };

    private async Task PublishFileAsync(ModelRegistry registry, string dataset, string version, string checkpointPath)
    {
        await using var file = File.OpenRead(checkpointPath);
        await registry.PublishAsync(Card(dataset, version, checkpointPath), file, null);
    }

    [Fact]
    public async Task A_version_is_written_once_and_publishing_it_again_fails_leaving_it_as_it_was()
    {
        const string dataset = "write-once";
        var registry = new ModelRegistry(Storage);
        await PublishFileAsync(registry, dataset, "v0001", fixture.Early);
        var models = Storage.GetBlobContainerClient(StorageLayout.ModelsContainer);
        var checkpoint = models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001"));
        var before = (await checkpoint.GetPropertiesAsync()).Value.ETag;

        var again = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => PublishFileAsync(registry, dataset, "v0001", fixture.Later));
        Assert.Contains($"models/{dataset}/v0001 already exists", again.Message);
        Assert.Contains("the newest is v0001", again.Message);
        Assert.Equal(before, (await checkpoint.GetPropertiesAsync()).Value.ETag);
        Assert.Equal(await File.ReadAllBytesAsync(fixture.Early), (await checkpoint.DownloadContentAsync()).Value.Content.ToArray());

        // Blobs of a publish that never finished (no card) are not overwritten either.
        var stray = models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0002"));
        await stray.UploadAsync(BinaryData.FromString("someone else's"));
        var partial = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => PublishFileAsync(registry, dataset, "v0002", fixture.Later));
        Assert.Contains("did not finish", partial.Message);
        Assert.Equal("someone else's", (await stray.DownloadContentAsync()).Value.Content.ToString());
        Assert.Null(await registry.ReadCardAsync(dataset, "v0002"));
        Assert.Equal("v0001", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
    }

    [Fact]
    public async Task An_ordinary_publish_never_moves_latest_backwards_while_promote_and_rollback_still_do()
    {
        const string dataset = "no-going-back";
        var registry = new ModelRegistry(Storage);
        await PublishFileAsync(registry, dataset, "v0003", fixture.Later);
        Assert.Equal("v0003", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
        await using (var file = File.OpenRead(fixture.Early))
        {
            var pointer = await registry.PublishAsync(Card(dataset, "v0002", fixture.Early), file, null);
            Assert.Equal("v0003", pointer!.Version);
        }
        Assert.Equal("v0003", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
        Assert.NotNull(await registry.ReadCardAsync(dataset, "v0002")); // published, as a version that is not latest

        Assert.Equal("v0002", (await registry.PromoteAsync(dataset, "v0002", DateTimeOffset.UtcNow)).Version);
        Assert.Equal("v0003", (await registry.RollbackAsync(dataset, DateTimeOffset.UtcNow))!.Version);
        await PublishFileAsync(registry, dataset, "v0004", fixture.Later);
        Assert.Equal("v0004", (await registry.GetLatestAsync(dataset, null)).Pointer!.Version);
    }

    [Fact]
    public async Task A_redelivered_run_publish_finishes_a_version_it_had_begun()
    {
        const string dataset = "redelivered";
        var registry = new ModelRegistry(Storage);
        var publisher = new RunPublisher(Storage, registry);
        await UploadRunAsync(dataset, "run-1", fixture.Early);
        var first = await publisher.PublishAsync(Scored(dataset, "run-1", 10, null));
        Assert.Equal(("v0001", true), (first.Version, first.Latest));
        // As if the first delivery had stopped after the checkpoint and before the card: its own blobs are taken as they are.
        var models = Storage.GetBlobContainerClient(StorageLayout.ModelsContainer);
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0001")).DeleteAsync();
        var checkpointETag = (await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001")).GetPropertiesAsync()).Value.ETag;
        var again = await publisher.PublishAsync(Scored(dataset, "run-1", 10, null));
        Assert.Equal(("v0001", true), (again.Version, again.Latest));
        Assert.Equal("run-1", (await registry.ReadCardAsync(dataset, "v0001"))!.SourceRun);
        Assert.Equal(checkpointETag, (await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001")).GetPropertiesAsync()).Value.ETag);
    }

    [Fact]
    public async Task Imagegen_publish_refuses_a_version_that_exists_by_name()
    {
        const string dataset = "cli-publish";
        string storage = fixture.Azurite.ConnectionString;
        static (int code, string output, string error) Run(params string[] args) => TestImages.RunCli(args);
        var (code, output, error) = Run("publish", "--checkpoint", fixture.Early, "--dataset", dataset, "--version", "v0001", "--storage", storage);
        Assert.True(code == 0, error);
        Assert.Contains("latest.json now names v0001", output);
        var checkpoint = Storage.GetBlobContainerClient(StorageLayout.ModelsContainer).GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001"));
        var etag = (await checkpoint.GetPropertiesAsync()).Value.ETag;

        (code, _, error) = Run("publish", "--checkpoint", fixture.Later, "--dataset", dataset, "--version", "v0001", "--storage", storage);
        Assert.Equal(2, code);
        Assert.Contains($"models/{dataset}/v0001 already exists", error);
        Assert.Equal(etag, (await checkpoint.GetPropertiesAsync()).Value.ETag);

        (code, _, error) = Run("publish", "--checkpoint", fixture.Later, "--dataset", dataset, "--version", "v2", "--storage", storage);
        Assert.Equal(2, code);
        Assert.Contains("--version 'v2' is not a version name", error);
    }
}

/// <summary>The publish gate's decision and its options, without storage.</summary>
public class PublishGateDecisionTests
{
    [Theory]
    [InlineData(PublishMode.Always, 50.0, 10.0, true, "publish: always")]
    [InlineData(PublishMode.Manual, 1.0, 10.0, false, "promote it with POST /api/datasets/d/models/v0002/promote")]
    [InlineData(PublishMode.IfBetter, 10.4, 10.0, true, "not worse")]
    [InlineData(PublishMode.IfBetter, 10.6, 10.0, false, "FD 10.60 against latest v0001's 10.00")]
    public void The_gate_passes_by_policy_and_by_fd_within_the_tolerance(PublishMode mode, double fd, double latestFd, bool passes, string reason)
    {
        var decision = PublishGate.Decide(new PublishPolicy { Mode = mode, Tolerance = 0.05 }, new QualityScores { ExtractorId = "x", Fd = fd },
            new BaselineScore("v0001", latestFd), null, "v0002", "d");
        Assert.Equal(passes, decision.Passed);
        Assert.Contains(reason, decision.Reason);
        Assert.Equal("v0001", decision.BaselineVersion);
    }

    [Fact]
    public void Runs_each_within_the_tolerance_of_the_last_cannot_walk_latest_down()
    {
        var policy = new PublishPolicy { Tolerance = 0.05 };
        static QualityScores Fd(double fd) => new() { ExtractorId = "x", Fd = fd };
        var v2 = PublishGate.Decide(policy, Fd(104), new BaselineScore("v0001", 100), null, "v0002", "d");
        Assert.True(v2.Passed);
        Assert.Equal(1.04, v2.FdAboveBest!.Value, precision: 9);

        // 4% worse again passes against v0002 alone, but that is 8.2% below the best of the line.
        var v3 = PublishGate.Decide(policy, Fd(108.16), new BaselineScore("v0002", 104) { FdAboveBest = v2.FdAboveBest.Value }, null, "v0003", "d");
        Assert.False(v3.Passed);
        Assert.Contains("FD 108.16 against latest v0002's 104.00 (same extractor, tolerance 5%, latest already 4.0% above the best of its line): worse", v3.Reason);
        Assert.Equal(1.0816, v3.FdAboveBest!.Value, precision: 9);
        // What is left of the tolerance still passes; a better run starts the line again from itself.
        Assert.True(PublishGate.Decide(policy, Fd(104.9), new BaselineScore("v0002", 104) { FdAboveBest = 1.04 }, null, "v0003", "d").Passed);
        var better = PublishGate.Decide(policy, Fd(95), new BaselineScore("v0002", 104) { FdAboveBest = 1.04 }, null, "v0003", "d");
        Assert.Equal((true, 1.0), (better.Passed, better.FdAboveBest));
        // A run better than latest passes even where latest spent more than this run's tolerance (passed under a wider one).
        var improving = PublishGate.Decide(policy, Fd(96), new BaselineScore("v0002", 120) { FdAboveBest = 1.4 }, null, "v0003", "d");
        Assert.True(improving.Passed, improving.Reason);
        Assert.Equal(1.12, improving.FdAboveBest!.Value, precision: 9);
        // An FD exactly at the tolerance passes, whatever the rounding.
        Assert.True(PublishGate.Decide(policy, Fd(10.5), new BaselineScore("v0001", 10), null, "v0002", "d").Passed);
    }

    [Fact]
    public void Only_a_latest_the_gate_passed_carries_its_distance_from_the_best()
    {
        var card = new ModelCard
        {
            Dataset = "d", Version = "v0002", Spec = new ModelSpec(),
            Publish = new PublishDecision { Policy = PublishMode.IfBetter, Passed = true, Reason = "", FdAboveBest = 1.03 },
        };
        var published = new LatestPointer("v0002", DateTimeOffset.UtcNow) { Reason = LatestPointer.Published };
        Assert.Equal(1.03, BaselineScore.CarriedFdAboveBest(published, card));
        Assert.Equal(1, BaselineScore.CarriedFdAboveBest(published.MoveTo("v0002", DateTimeOffset.UtcNow, "promoted"), card));
        Assert.Equal(1, BaselineScore.CarriedFdAboveBest(published, card with { Publish = card.Publish with { FdAboveBest = null } }));
        Assert.Equal(1, BaselineScore.CarriedFdAboveBest(published, null));
    }

    [Fact]
    public void A_score_that_is_not_a_number_never_passes_and_a_latest_without_one_is_not_compared()
    {
        var nan = PublishGate.Decide(new PublishPolicy(), new QualityScores { ExtractorId = "x", Fd = double.NaN }, new BaselineScore("v0001", 10), null, "v0002", "d");
        Assert.False(nan.Passed);
        Assert.StartsWith("the run's FD is NaN, not a number to compare", nan.Reason);
        Assert.False(PublishGate.Decide(new PublishPolicy(), new QualityScores { ExtractorId = "x", Fd = double.PositiveInfinity },
            new BaselineScore("v0001", 10), null, "v0002", "d").Passed);
        var brokenLatest = PublishGate.Decide(new PublishPolicy(), new QualityScores { ExtractorId = "x", Fd = 10 },
            new BaselineScore("v0001", double.NaN), null, "v0002", "d");
        Assert.True(brokenLatest.Passed);
        Assert.StartsWith("latest v0001's FD is NaN, so the two cannot be compared", brokenLatest.Reason);
    }

    [Fact]
    public void Without_a_comparable_latest_ifBetter_publishes_and_says_why()
    {
        var first = PublishGate.Decide(new PublishPolicy(), new QualityScores { ExtractorId = "x", Fd = 99 }, null, null, "v0001", "d");
        Assert.True(first.Passed);
        Assert.Equal("the dataset's first model", first.Reason);
        var other = PublishGate.Decide(new PublishPolicy(), new QualityScores { ExtractorId = "x", Fd = 99 }, null, "latest v0001 makes 64x64x3 images", "v0002", "d");
        Assert.True(other.Passed);
        Assert.StartsWith("latest v0001 makes 64x64x3 images", other.Reason);
    }

    [Fact]
    public void IfBetter_holds_a_run_whose_samples_copy_its_training_images_more_often_than_unseen_real_images_land_near_them()
    {
        static QualityScores Scores(double share, double? unseenShare, int unseenImages) => new()
        {
            ExtractorId = "x", Fd = 1, GeneratedImages = 2000, NearCopyShare = share, UnseenNearCopyShare = unseenShare, UnseenImages = unseenImages,
        };
        var copier = Scores(0.40, 0.10, 120);
        var held = PublishGate.Decide(new PublishPolicy(), copier, null, null, "v0001", "d");
        Assert.False(held.Passed); // even as the dataset's first model, and with the better FD
        Assert.StartsWith("near-copies 40.0% of 2000 samples against 10.0% of 120 real images training never saw", held.Reason);
        Assert.Contains("it copies its training images, so kept as a candidate; promote it with POST /api/datasets/d/models/v0001/promote", held.Reason);
        Assert.False(PublishGate.Decide(new PublishPolicy(), copier, new BaselineScore("v0000", 50), null, "v0001", "d").Passed);
        Assert.True(PublishGate.Decide(new PublishPolicy { Mode = PublishMode.Always }, copier, null, null, "v0001", "d").Passed);

        // Samples landing near training images no more often than new real images do pass; so does a share above the
        // baseline that a few dozen unseen images cannot tell from noise; so does a model scored without a baseline.
        var fair = PublishGate.Decide(new PublishPolicy(), Scores(0.05, 0.16, 12), new BaselineScore("v0000", 1), null, "v0001", "d");
        Assert.True(fair.Passed);
        Assert.EndsWith("not worse; near-copies 5.0% of 2000 samples against 16.0% of 12 real images training never saw " +
                        "(at least 3.7% against at most 58.6%): not copying", fair.Reason);
        Assert.True(PublishGate.Decide(new PublishPolicy(), Scores(0.20, 0.12, 25), null, null, "v0001", "d").Passed);
        Assert.True(PublishGate.Decide(new PublishPolicy(), Scores(0.40, null, 0), null, null, "v0001", "d").Passed);
        // A thousand unseen images make the baseline tight: 3% against 0.4% is copying.
        var tight = NearCopyCheck.Of(Scores(0.03, 0.004, 1000))!;
        Assert.True(tight.CopiesMore, tight.Comparison);
        Assert.InRange(tight.UnseenHigh, 0.004, 0.02);

        var settings = TrainSettings.FromValues(TrainSettings.ParseJsonObject("{\"holdOut\": 0.2}", "imagegen.json"), "imagegen.json");
        Assert.Equal(0.2, settings.HoldOut);
        Assert.Equal(DatasetHoldOut.DefaultShare, TrainSettings.Default.HoldOut);
        var error = Assert.Throws<OptionException>(() => TrainSettings.FromValues(TrainSettings.ParseJsonObject("{\"holdOut\": 0.9}", "imagegen.json"), "imagegen.json"));
        Assert.Contains("holdOut", error.Message);
    }

    [Fact]
    public void Publish_options_are_read_with_the_training_options_and_bad_values_name_the_key()
    {
        var settings = TrainSettings.FromValues(TrainSettings.ParseJsonObject("{\"publish\": \"manual\", \"publishTolerance\": 0.1, \"maxSteps\": 5}", "imagegen.json"), "imagegen.json");
        Assert.Equal(PublishMode.Manual, settings.Publish.Mode);
        Assert.Equal(0.1, settings.Publish.Tolerance);
        Assert.Equal(PublishMode.IfBetter, TrainSettings.FromValues(new Dictionary<string, string>(), "defaults").Publish.Mode);
        var error = Assert.Throws<OptionException>(() => TrainSettings.FromValues(TrainSettings.ParseJsonObject("{\"publish\": \"sometimes\"}", "imagegen.json"), "imagegen.json"));
        Assert.Equal("imagegen.json: publish 'sometimes' is not one of always, ifBetter, manual", error.Message);
    }
}
