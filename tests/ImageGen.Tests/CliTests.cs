using ImageGen.Cli;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Training;
using SkiaSharp;

namespace ImageGen.Tests;

[Collection(TrainedRunsCollection.Name)]
public class CliTests(TrainedRuns runs)
{
    private static (int code, string output, string error) Run(params string[] args) => TestImages.RunCli(args);

    [Fact]
    public void Export_writes_an_onnx_model_that_onnx_runtime_loads_and_refuses_a_missing_checkpoint()
    {
        using var folder = new TempFolder();
        string path = folder.File("gan.onnx");
        var (code, output, error) = Run("export", "--checkpoint", runs.Gan.CheckpointPath, "--out", path);
        Assert.True(code == 0, error);
        Assert.Contains($"inputs z [batch, {runs.GanSpec.LatentSize}]", output);
        using var loaded = ImageGen.Core.Sampling.OnnxGenerator.Load(path);
        Assert.Equal(runs.GanSpec, loaded.Spec);
        Assert.Contains("opset 17", loaded.Producer);
        Assert.False(File.Exists(folder.File("encoder.onnx"))); // a GAN has no encoder
        // A VAE's encoder goes beside it, as publishing writes it.
        var (vaeCode, vaeOutput, vaeError) = Run("export", "--checkpoint", runs.Vae.CheckpointPath, "--out", Path.Combine(folder.File("vae"), "model.onnx"));
        Assert.True(vaeCode == 0, vaeError);
        Assert.Contains($"output mu [batch, {runs.VaeSpec.LatentSize}]", vaeOutput);
        using (var vae = ImageGen.Core.Sampling.OnnxReconstructor.Load(ImageGen.Core.Sampling.OnnxGenerator.Load(Path.Combine(folder.File("vae"), "model.onnx")),
                   File.ReadAllBytes(Path.Combine(folder.File("vae"), "encoder.onnx"))))
            Assert.Equal(runs.VaeSpec, vae.Spec);
        var (missingCode, _, missingError) = Run("export", "--checkpoint", folder.File("nothing.ckpt"), "--out", folder.File("x.onnx"));
        Assert.NotEqual(0, missingCode);
        Assert.Contains("nothing.ckpt", missingError);
        Assert.False(File.Exists(folder.File("x.onnx")));
    }

    [Fact]
    public void Bench_backends_times_both_engines_on_one_checkpoint_and_reports_their_agreement()
    {
        var (code, output, error) = Run("bench", "backends", "--checkpoint", runs.Gan.CheckpointPath, "--counts", "1,4", "--rounds", "2", "--block", "2", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Matches(@"load from a local file: libtorch \d+ ms .* ONNX Runtime session \d+ ms", output);
        foreach (int count in new[] { 1, 4 })
            Assert.Matches($@"count +{count}: libtorch p50 [\d.]+ ms p99 [\d.]+ ms \| onnxruntime p50 [\d.]+ ms .* largest pixel difference [01] level", output);
        var (badCode, _, badError) = Run("bench", "backends", "--checkpoint", runs.Gan.CheckpointPath, "--counts", "0");
        Assert.NotEqual(0, badCode);
        Assert.Contains("--counts '0'", badError);
    }

    [Fact]
    public void Every_training_option_of_the_one_table_is_a_flag_of_train_listed_in_its_help() =>
        Assert.All(TrainSettings.Keys.Select(TrainSettings.CliFlag), flag =>
        {
            Assert.Contains(flag, CommandTree.Train.Values);
            Assert.Contains(flag, Run("train", "--help").output);
        });

    [Fact]
    public void Every_command_and_bench_target_has_generated_help_naming_each_option_it_takes_and_tab_completion_offers_them()
    {
        var (rootCode, rootHelp, _) = Run("--help");
        Assert.Equal(0, rootCode);
        foreach (var command in CommandTree.All) Assert.Contains(command.Name, rootHelp);
        foreach (var (args, definition) in CommandTree.All.Select(c => (new[] { c.Name }, c))
                     .Concat(CommandTree.Bench.Targets.Select(t => (new[] { "bench", t.Name }, t))))
        {
            var (code, help, error) = Run([.. args, "--help"]);
            Assert.True(code == 0, error);
            foreach (var option in definition.Values.Concat(definition.Flags)) Assert.Contains(option, help);
        }
        Assert.Equal(Run("help", "up").output, Run("up", "--help").output);

        // What bash completion asks for: the words that can follow the text before the cursor.
        var (suggestCode, suggestions, _) = Run("[suggest:9]", "train --m");
        Assert.Equal(0, suggestCode);
        Assert.Equal(["--max-steps", "--mode-seeking", "--model", "--momentum"], suggestions.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("drop", Run("[suggest:2]", "dr").output);
        Assert.Equal(["dcgan", "vae"], Run("[suggest:14]", "train --model ").output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("--optimizer <adam|rmsprop|sgd>", Run("train", "--help").output);
        Assert.Contains("complete -o default -F _imagegen_complete imagegen", Run("completion", "bash").output);
    }

    [Theory]
    [InlineData(new[] { "train", "--model", "gan", "--out", "x" }, "--model 'gan' is not one of dcgan, vae")]
    [InlineData(new[] { "train", "--image-size", "48", "--out", "x" }, "--image-size '48' is not one of 32, 64, 128")]
    [InlineData(new[] { "train", "--optimizer", "lbfgs", "--out", "x" }, "--optimizer 'lbfgs' is not one of adam, rmsprop, sgd")]
    [InlineData(new[] { "train", "--time-budget", "soon", "--out", "x" }, "--time-budget 'soon'")]
    [InlineData(new[] { "train", "--batch-size", "0", "--out", "x" }, "--batch-size '0' is not an integer in 1..4096")]
    [InlineData(new[] { "train", "--epochz", "3" }, "does not take '--epochz'")]
    [InlineData(new[] { "train", "--data", "synthetic" }, "needs --out")]
    [InlineData(new[] { "sample", "--checkpoint", "nowhere", "--out", "x.png" }, "no checkpoint at 'nowhere'")]
    [InlineData(new[] { "fly" }, "unknown command 'fly'")]
    [InlineData(new[] { "train", "--data", "synthetic", "--out", "x", "--resume=maybe" }, "--resume is a flag: give it alone (or --resume=true / --resume=false), not 'maybe'")]
    public void Bad_arguments_name_the_argument_and_the_accepted_values_and_exit_non_zero(string[] args, string expected)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }

    /// <summary>A port already taken is one error line naming the address (exit 1), not a stack trace.</summary>
    [Fact]
    public void Serving_on_a_port_already_taken_is_an_error_naming_the_address()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        // --threads as the suite runs (TestImages): the command sets libtorch's threads for the whole test process.
        var (code, _, error) = Run("serve", "--urls", $"http://127.0.0.1:{port}", "--threads", "2");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains($"127.0.0.1:{port}", error);
        Assert.DoesNotContain("   at ", error);
    }

    /// <summary>The commands that listen take the flags their wider-address refusal tells the user to add.</summary>
    [Fact]
    public void Every_command_that_listens_takes_the_flags_its_address_refusal_suggests()
    {
        string refusal = Assert.Throws<ArgumentException>(() => new ImageGen.Cli.Hosting.LocalAccess().CheckAddresses(["http://0.0.0.0:7071"], "--urls")).Message;
        var suggested = System.Text.RegularExpressions.Regex.Matches(refusal, "--[a-z-]+").Select(m => m.Value).Where(f => f != "--urls").Distinct().ToList();
        Assert.NotEmpty(suggested);
        foreach (var command in new[] { CommandTree.Up, CommandTree.Host, CommandTree.Serve })
            foreach (string flag in suggested)
                Assert.True(Args.Parse(command, ["--urls", "http://0.0.0.0:7071", flag]).Has(flag), $"{command.Name} does not take {flag}");
    }

    /// <summary>"--flag=false" turns a flag off (it used to turn it on: --overwrite=false overwrote), "=true" or alone on.</summary>
    [Fact]
    public void A_flag_given_a_value_is_on_only_for_true()
    {
        Assert.False(Args.Parse(CommandTree.Drop, ["photos", "--dataset", "x", "--overwrite=false"]).Has("--overwrite"));
        Assert.False(Args.Parse(CommandTree.Drop, ["photos", "--overwrite", "--dataset", "x", "--overwrite=False"]).Has("--overwrite"));
        Assert.True(Args.Parse(CommandTree.Drop, ["photos", "--dataset", "x", "--overwrite=TRUE"]).Has("--overwrite"));
        Assert.True(Args.Parse(CommandTree.Drop, ["photos", "--dataset", "x", "--overwrite"]).Has("--overwrite"));
        Assert.Equal("x", Args.Parse(CommandTree.Drop, ["photos", "--dataset=x"]).String("--dataset"));
    }

    [Fact]
    public void Sample_streams_thousands_of_seeds_to_files_and_each_file_is_its_seed_alone()
    {
        using var folder = new TempFolder();
        var (code, _, error) = Run("sample", "--checkpoint", runs.Gan.RunFolder, "--seeds", "0-1499", "--out-dir", "--out", folder.File("many"));
        Assert.True(code == 0, error);
        Assert.Equal(1500, Directory.GetFiles(folder.File("many")).Length);
        (code, _, error) = Run("sample", "--checkpoint", runs.Gan.RunFolder, "--seeds", "1300", "--out-dir", "--out", folder.File("one"));
        Assert.True(code == 0, error);
        // Seed 1300 was drawn in the sixth batch of 256; alone it gives the same image (libtorch may pick other
        // kernels for another batch size, so a pixel may round one level differently).
        using var batched = SKBitmap.Decode(folder.File("many/seed1300.png"));
        using var alone = SKBitmap.Decode(folder.File("one/seed1300.png"));
        Assert.Equal(alone.Bytes.Length, batched.Bytes.Length);
        Assert.True(alone.Bytes.Zip(batched.Bytes).Max(p => Math.Abs(p.First - p.Second)) <= 1, "seed 1300 differs between its batch and alone");
        (code, _, error) = Run("sample", "--checkpoint", runs.Gan.RunFolder, "--seeds", "0-1499", "--out", folder.File("grid.png"));
        Assert.Equal(2, code); // a grid stays bounded at 1,024 images
    }

    [Fact]
    public void Sample_writes_one_png_per_seed_named_by_seed_and_grids()
    {
        using var folder = new TempFolder();
        var (code, _, error) = Run("sample", "--checkpoint", runs.Gan.RunFolder, "--seeds", "3,10-11", "--out-dir", "--out", folder.File("files"));
        Assert.True(code == 0, error);
        Assert.Equal(new[] { "seed0003.png", "seed0010.png", "seed0011.png" },
            Directory.GetFiles(folder.File("files")).Select(Path.GetFileName).Order());
        using (var one = SKBitmap.Decode(folder.File("files/seed0010.png"))) Assert.Equal(32, one.Width);

        (code, _, error) = Run("sample", "--checkpoint", runs.Gan.CheckpointPath, "--count", "6", "--seed", "2", "--nrow", "3", "--out", folder.File("grid.png"));
        Assert.True(code == 0, error);
        using (var grid = SKBitmap.Decode(folder.File("grid.png"))) Assert.Equal((3 * 34 + 2, 2 * 34 + 2), (grid.Width, grid.Height));

        (code, _, error) = Run("sample", "--checkpoint", runs.Gan.CheckpointPath, "--interpolate", "1,2,5", "--out", folder.File("interp.png"));
        Assert.True(code == 0, error);
        using (var strip = SKBitmap.Decode(folder.File("interp.png"))) Assert.Equal(5 * 34 + 2, strip.Width);

        (code, _, error) = Run("sample", "--checkpoint", runs.Gan.CheckpointPath, "--interpolate", "1,2", "--out", folder.File("bad.png"));
        Assert.Equal(2, code);
        Assert.Contains("A,B,STEPS", error);
    }

    /// <summary>
    /// sample --reconstruct through a class-conditional VAE: each input's class comes from its folder (named after the
    /// checkpoint's classes) or from --class; without either, or from a folder of another class, it is refused by name.
    /// </summary>
    [Fact]
    public void Sample_reconstructs_through_a_conditional_vae_with_each_images_class()
    {
        using var folder = new TempFolder();
        void Write(string path, int index, bool inverted)
        {
            var pixels = runs.HeldOut.Pixels[index].data<byte>().ToArray();
            Directory.CreateDirectory(Path.GetDirectoryName(folder.File(path))!);
            File.WriteAllBytes(folder.File(path), ImageGen.Core.Imaging.PngEncoder.Encode(inverted ? [.. pixels.Select(p => (byte)(255 - p))] : pixels, 32, 32, 1));
        }
        for (int i = 0; i < 2; i++)
        {
            Write($"labelled/plain/{i}.png", i, inverted: false);
            Write($"labelled/inverted/{i}.png", i + 2, inverted: true);
            Write($"flat/{i}.png", i, inverted: true);
            Write($"other/inverted/{i}.png", i, inverted: true);
            Write($"other/round/{i}.png", i + 2, inverted: false);
        }
        string cvae = runs.ConditionalVae.CheckpointPath;
        var (code, output, error) = Run("sample", "--checkpoint", cvae, "--reconstruct", folder.File("labelled"), "--out", folder.File("labelled.png"));
        Assert.True(code == 0, error);
        Assert.Contains("4 inputs over their reconstructions", output);
        Assert.Contains("classes plain 50", output); // each class with its share of the training images (256 of 512)
        using (var grid = SKBitmap.Decode(folder.File("labelled.png"))) Assert.Equal((4 * 34 + 2, 2 * 34 + 2), (grid.Width, grid.Height));

        (code, _, error) = Run("sample", "--checkpoint", cvae, "--reconstruct", folder.File("flat"), "--out", folder.File("flat.png"));
        Assert.Equal(2, code);
        Assert.Contains("give --class NAME, or a folder with a subfolder per class", error);
        (code, _, error) = Run("sample", "--checkpoint", cvae, "--reconstruct", folder.File("flat"), "--class", "inverted", "--out", folder.File("flat.png"));
        Assert.True(code == 0, error);
        (code, _, error) = Run("sample", "--checkpoint", cvae, "--reconstruct", folder.File("other"), "--out", folder.File("other.png"));
        Assert.Equal(2, code);
        Assert.Contains("folder 'round' is not one of the checkpoint's classes: plain, inverted", error);
    }

    /// <summary>
    /// A VAE or a DCGAN on an unlabelled drop with enough images per cluster trains on the family's default clusters, says
    /// so, and records them in its checkpoint; clusters 0 and a drop one image short train without; and a run saved before
    /// clusters had a default (its options leave them unset) resumes as it was trained, without them.
    /// </summary>
    [Theory]
    [InlineData("vae", "VAE")]
    [InlineData("dcgan", "DCGAN")]
    public void A_model_on_an_unlabelled_drop_trains_on_its_default_clusters_and_an_older_run_resumes_without(string model, string family)
    {
        using var folder = new TempFolder();
        int enough = ImageGen.Core.Models.ModelFamily.For(Enum.Parse<ImageGen.Core.Models.ModelKind>(model, ignoreCase: true)).DefaultClusters
                     * ImageGen.Core.Models.TrainOptions.MinImagesPerDefaultCluster;
        string[] Train(int images, string run, int steps, params string[] extra) =>
            ["train", "--data", $"synthetic:{images}", "--model", model, "--max-steps", $"{steps}", "--batch-size", "16", "--ngf", "8", "--ndf", "8", "--nz", "4",
             "--seed", "9", "--extractor-steps", "20", "--out", folder.File(run), .. extra];
        CheckpointHeader Header(string run) => Checkpoint.ReadHeader(folder.File($"{run}/{Checkpoint.FileName}"));

        var (code, output, error) = Run(Train(enough, "default", 2));
        Assert.True(code == 0, error);
        Assert.Contains($"clusters 10: the {family}'s default for unlabelled data ('--clusters 0' trains without)", output);
        var clustered = Header("default");
        Assert.Equal(10, clustered.Options.Clusters);
        Assert.InRange(clustered.Spec.Classes, 2, 10);
        Assert.Equal("cluster-01", clustered.Classes[0]);
        Assert.Equal(model == "dcgan" ? 1 : 0, clustered.Options.ModeSeeking); // the DCGAN seeks modes on clusters
        Assert.Equal(model == "dcgan", output.Contains("mode seeking 1: the DCGAN's default on clusters ('--mode-seeking 0' trains without)"));

        foreach (var (images, run, extra) in new[] { (enough, "off", new[] { "--clusters", "0" }), (enough - 1, "short", Array.Empty<string>()) })
        {
            (code, output, error) = Run(Train(images, run, 2, extra));
            Assert.True(code == 0, error);
            Assert.DoesNotContain("clusters", output);
            Assert.Equal(model == "dcgan", output.Contains("mode seeking 1: the DCGAN's default on data without classes ('--mode-seeking 0' trains without)"));
            Assert.Equal(0, Header(run).Spec.Classes);
            Assert.Equal(0, Header(run).Options.Clusters);
        }

        var (off, sections) = Checkpoint.Read(folder.File($"off/{Checkpoint.FileName}"));
        Checkpoint.Write(folder.File($"older/{Checkpoint.FileName}"), off with { Options = off.Options with { Clusters = null } }, Checkpoint.SectionsAsRead(sections));
        (code, output, error) = Run(Train(enough, "older", 4, "--resume"));
        Assert.True(code == 0, error);
        Assert.DoesNotContain("clusters", output);
        Assert.Equal(4, Header("older").Step);
        Assert.Equal(0, Header("older").Spec.Classes);
    }

    [Fact]
    public void Ingest_prints_counts_and_each_rejection_and_train_reads_the_shards()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder.File("in"));
        for (int i = 0; i < 40; i++)
        {
            using var shape = TestImages.Shape(i);
            File.WriteAllBytes(folder.File($"in/{i:D3}.png"), TestImages.Encode(shape, SKEncodedImageFormat.Png));
        }
        File.WriteAllBytes(folder.File("in/zero.png"), []);
        var (code, output, error) = Run("ingest", "--in", folder.File("in"), "--out", folder.File("shards"));
        Assert.True(code == 0, error);
        Assert.Contains("accepted 40, rejected 1", output);
        Assert.Contains("rejected 'zero.png': empty file (0 bytes)", output);

        (code, output, error) = Run("train", "--data", folder.File("shards"), "--model", "vae", "--max-steps", "3", "--batch-size", "8",
            "--ngf", "8", "--ndf", "8", "--nz", "4", "--seed", "9", "--out", folder.File("run"), "--resume");
        Assert.True(code == 0, error);
        Assert.Contains($"--resume: no checkpoint in {folder.File("run")} yet, so a new run starts there", output); // a typo in --out is told, not hidden
        Assert.Contains("stopped by max-steps after 3 steps", output);
        Assert.True(File.Exists(folder.File("run/checkpoint.ckpt")));
        (code, output, error) = Run("train", "--data", folder.File("shards"), "--model", "vae", "--max-steps", "5", "--batch-size", "8",
            "--ngf", "8", "--ndf", "8", "--nz", "4", "--seed", "9", "--out", folder.File("run"), "--resume");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("no checkpoint", output);
        Assert.Contains("stopped by max-steps after 5 steps", output);
    }
}

/// <summary>What up shows while it follows a run, drawn by Spectre.Console into a test console.</summary>
public class RunViewTests
{
    private static System.Text.Json.JsonElement Status(string state, bool running, long step = 0, double lossG = 0) =>
        System.Text.Json.JsonSerializer.SerializeToElement(step == 0
            ? (object)new { running, status = new { state } }
            : new
            {
                running = true, status = new { state },
                live = new { stage = "training", step, totalSteps = 400, losses = new { loss_d = 0.5, loss_g = lossG }, imagesPerSecond = 1234, etaSeconds = 70 },
            });

    [Fact]
    public void The_live_display_shows_stage_progress_losses_rate_eta_and_a_sparkline_of_the_loss_and_knows_when_the_run_ended()
    {
        var view = new ImageGen.Cli.RunView("demo");
        Assert.True(view.Update(Status("waiting", running: true)));
        Assert.True(view.Update(Status("training", running: true, step: 100, lossG: 3.0)));
        Assert.False(view.Update(Status("training", running: true, step: 200, lossG: 2.0)));
        view.Update(Status("training", running: true, step: 300, lossG: 1.0));
        view.Update(Status("training", running: true, step: 300, lossG: 1.0)); // no new step: no new point
        Assert.Equal([3.0, 2.0, 1.0], view.LossHistory);
        Assert.Equal("step 300/400 loss_d 0.500 loss_g 1.000 1234 img/s ETA 01:10", view.Line());

        var console = Spectre.Console.Testing.TestConsoleExtensions.SupportsUnicode(Spectre.Console.Testing.TestConsoleExtensions.Width(new Spectre.Console.Testing.TestConsole(), 100), true);
        console.Write(view.Render());
        string drawn = console.Output;
        Assert.Contains("demo", drawn);
        Assert.Contains("stage training", drawn);
        Assert.Contains("step 300/400 (75%)", drawn);
        Assert.Contains("loss_g", drawn);
        Assert.Contains("1234 images/s", drawn);
        Assert.Contains("ETA 01:10", drawn);
        Assert.Contains("loss_g █▅▁", drawn);
        Assert.False(view.Ended);

        view.Update(System.Text.Json.JsonSerializer.SerializeToElement(new { running = false, status = new { state = "published", step = 400, totalSteps = 400 } }));
        Assert.True(view.Ended);
        Assert.StartsWith("step 400/400", view.Line()); // the run's final record, past the last live report
    }

    [Fact]
    public void Before_the_first_step_the_view_shows_what_the_stage_reports_ingest_counts_then_the_clusters_messages()
    {
        static System.Text.Json.JsonElement Live(string state, object live) =>
            System.Text.Json.JsonSerializer.SerializeToElement(new { running = true, status = new { state }, live });
        var view = new ImageGen.Cli.RunView("demo");
        view.Update(Live("ingesting", new { stage = "ingest", seen = 1200, accepted = 1190, rejected = 10 }));
        Assert.Equal("ingest: 1200 seen, 1190 accepted, 10 rejected", view.Activity);

        // Training has begun, and the progress blob still holds ingest's last report: not this stage's, so not shown.
        Assert.True(view.Update(Live("training", new { stage = "ingest", seen = 2000, accepted = 2000, rejected = 0 })));
        Assert.Null(view.Activity);
        // What ingest held out, from the run's status, when training begins.
        view.Update(Live("waiting", new { }));
        Assert.True(view.Update(System.Text.Json.JsonSerializer.SerializeToElement(
            new { running = true, status = new { state = "training", accepted = 2000, heldOut = 210 }, live = new { stage = "ingest" } })));
        Assert.Equal("ingest: 210 of the 2000 accepted images held out of training, for the near-copy check", view.Activity);
        const string message = "clusters: training a self-supervised extractor on 2000 images (600 steps)";
        view.Update(Live("training", new { stage = "clustering", message, chunk = 0 }));
        Assert.Equal(message, view.Activity);
        Assert.Equal(0, view.Step);

        var console = Spectre.Console.Testing.TestConsoleExtensions.Width(new Spectre.Console.Testing.TestConsole(), 120);
        console.Write(view.Render());
        Assert.Contains(message, console.Output);

        view.Update(Status("training", running: true, step: 10, lossG: 1.0));
        Assert.Null(view.Activity); // steps have come: the step line takes its place
        var after = Spectre.Console.Testing.TestConsoleExtensions.Width(new Spectre.Console.Testing.TestConsole(), 120);
        after.Write(view.Render());
        Assert.DoesNotContain("self-supervised", after.Output);
        Assert.Contains("step 10/400", after.Output);
    }

    [Fact]
    public void A_sparkline_spans_the_values_own_range_and_keeps_the_last_values_that_fit()
    {
        Assert.Equal("▁▂▃▄▅▆▇█", ImageGen.Cli.RunView.Sparkline([1, 2, 3, 4, 5, 6, 7, 8], 60));
        Assert.Equal("▁▅█", ImageGen.Cli.RunView.Sparkline([1, 2, 3, 4, 5, 6, 7, 8], 3)); // the last 3, over their own range
        Assert.Equal("▅▅", ImageGen.Cli.RunView.Sparkline([2, 2], 10));
        Assert.Equal("▁█", ImageGen.Cli.RunView.Sparkline([0, double.NaN, 1], 10));
        Assert.Equal("", ImageGen.Cli.RunView.Sparkline([], 10));
    }
}
