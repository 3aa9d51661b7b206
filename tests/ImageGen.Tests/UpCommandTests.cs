using System.Diagnostics;
using SkiaSharp;

namespace ImageGen.Tests;

/// <summary>imagegen up driven as a process, as a user runs it: a fresh data folder to a published model, then again.</summary>
public class UpCommandTests
{
    private static (int exitCode, string output) Up(string dataFolder, params string[] extra)
    {
        string cli = Path.Combine(AzuriteFixture.RepoRoot(), "tools", "ImageGen.Cli", "bin", "Release", "net10.0", "imagegen.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { cli, "up", "--data", dataFolder, "--urls", "http://127.0.0.1:0", "--azurite-ports", "auto", "--once", "--threads", "2" }.Concat(extra))
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8))) { process.Kill(entireProcessTree: true); throw new TimeoutException("up ran past 8 minutes:\n" + stdout); }
        return (process.ExitCode, stdout + stderr.Result);
    }

    [Fact]
    public void Up_on_a_fresh_folder_trains_and_publishes_the_demo_and_a_second_up_serves_it_without_training()
    {
        using var data = new TempFolder();
        var (code, output) = Up(data.Path, "--steps", "40", "--images", "256");
        Assert.True(code == 0, output);
        Assert.Contains("dropping 256", output);
        Assert.Contains("] training", output);
        Assert.Contains("] published", output);
        Assert.Contains("demo v0001: 64 samples (seeds 0-63) saved to", output);
        string grid = Path.Combine(data.Path, "demo-samples.png");
        using (var bitmap = SKBitmap.Decode(grid))
        {
            Assert.Equal(8 * 34 + 2, bitmap.Width);
            Assert.True(Enumerable.Range(0, 60).Select(i => bitmap.GetPixel(2 + i * 4, 2 + i * 4).Red).Distinct().Count() > 3, "the grid is blank");
        }
        Assert.True(Directory.Exists(Path.Combine(data.Path, "azurite")));

        // The same folder again: the published demo is served as it is, not trained again.
        File.Delete(grid);
        var (again, secondOutput) = Up(data.Path);
        Assert.True(again == 0, secondOutput);
        Assert.Contains("demo: v0001 is published already; not training again", secondOutput);
        Assert.DoesNotContain("dropping", secondOutput);
        Assert.True(File.Exists(grid));
    }
}
