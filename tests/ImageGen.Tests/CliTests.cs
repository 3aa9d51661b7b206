using ImageGen.Cli;
using SkiaSharp;

namespace ImageGen.Tests;

[Collection(TrainedRunsCollection.Name)]
public class CliTests(TrainedRuns runs)
{
    private static (int code, string output, string error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.RunAsync(args, output, error).GetAwaiter().GetResult();
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData(new[] { "train", "--model", "gan", "--out", "x" }, "--model 'gan' is not one of dcgan, vae")]
    [InlineData(new[] { "train", "--image-size", "48", "--out", "x" }, "--image-size '48' is not one of 32, 64")]
    [InlineData(new[] { "train", "--optimizer", "lbfgs", "--out", "x" }, "--optimizer 'lbfgs' is not one of adam, rmsprop, sgd")]
    [InlineData(new[] { "train", "--time-budget", "soon", "--out", "x" }, "--time-budget 'soon'")]
    [InlineData(new[] { "train", "--batch-size", "0", "--out", "x" }, "--batch-size '0' is not an integer in 1..4096")]
    [InlineData(new[] { "train", "--epochz", "3" }, "does not take '--epochz'")]
    [InlineData(new[] { "train", "--data", "synthetic" }, "needs --out")]
    [InlineData(new[] { "sample", "--checkpoint", "nowhere", "--out", "x.png" }, "no checkpoint at 'nowhere'")]
    [InlineData(new[] { "fly" }, "unknown command 'fly'")]
    public void Bad_arguments_name_the_argument_and_the_accepted_values_and_exit_non_zero(string[] args, string expected)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
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
            "--ngf", "8", "--ndf", "8", "--nz", "4", "--seed", "9", "--out", folder.File("run"));
        Assert.True(code == 0, error);
        Assert.Contains("stopped by max-steps after 3 steps", output);
        Assert.True(File.Exists(folder.File("run/checkpoint.ckpt")));
    }
}
