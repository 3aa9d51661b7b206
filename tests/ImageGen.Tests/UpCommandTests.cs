using System.Diagnostics;
using SkiaSharp;

namespace ImageGen.Tests;

/// <summary>imagegen up driven as a process, as a user runs it: a fresh data folder to a published model, then again.</summary>
public class UpCommandTests
{
    private static ProcessStartInfo UpProcess(string dataFolder, IEnumerable<string> extra)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "imagegen.dll"); // the CLI as this build of the tests references it
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { cli, "up", "--data", dataFolder, "--urls", "http://127.0.0.1:0", "--azurite-ports", "auto", "--threads", "2" }.Concat(extra))
            start.ArgumentList.Add(arg);
        return start;
    }

    private static (int exitCode, string output) Up(string dataFolder, params string[] extra)
    {
        using var process = Process.Start(UpProcess(dataFolder, ["--once", .. extra]))!;
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
        var (again, secondOutput) = Up(data.Path, "--steps", "80");
        Assert.True(again == 0, secondOutput);
        Assert.Contains("demo: v0001 is published already; not training again", secondOutput);
        Assert.Contains($"--steps and --images shape a new demo drop; {data.Path} holds one already", secondOutput); // not silently ignored
        Assert.DoesNotContain("dropping", secondOutput);
        Assert.True(File.Exists(grid));
    }

    [Fact]
    public async Task Up_stopped_with_SIGTERM_mid_training_keeps_its_checkpoint_and_the_next_up_resumes_from_it_and_publishes()
    {
        using var data = new TempFolder();
        using var first = Process.Start(UpProcess(data.Path, ["--steps", "500", "--images", "256"]))!;
        var output = new System.Text.StringBuilder();
        var stderr = first.StandardError.ReadToEndAsync();
        long stoppedAfter = 0;
        try
        {
            // Progress lines come every few seconds when the output is not a terminal: "step N/500 ...".
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            while (await first.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
            {
                output.AppendLine(line);
                if (System.Text.RegularExpressions.Regex.Match(line, @"^step (\d+)/500") is { Success: true } m && long.Parse(m.Groups[1].Value) >= 150)
                {
                    stoppedAfter = long.Parse(m.Groups[1].Value);
                    break;
                }
            }
            Assert.True(stoppedAfter > 0, "training never passed step 150:\n" + output);
            using (var kill = Process.Start("kill", ["-TERM", first.Id.ToString()])) await kill.WaitForExitAsync();
            output.Append(await first.StandardOutput.ReadToEndAsync());
            Assert.True(first.WaitForExit(TimeSpan.FromSeconds(90)), "up did not stop within 90 s of SIGTERM:\n" + output);
        }
        finally { if (!first.HasExited) first.Kill(entireProcessTree: true); }
        Assert.True(first.ExitCode == 130, $"exit {first.ExitCode}:\n{output}{await stderr}");
        Assert.Contains("stopped; the run's checkpoint is kept", output.ToString());
        Assert.DoesNotContain("] published", output.ToString());

        // Again on the same folder: the same run carries on from its checkpoint (not from step 0) to a published model.
        var (code, second) = Up(data.Path);
        Assert.True(code == 0, second);
        Assert.Contains("a run is under way; following it", second);
        Assert.DoesNotContain("dropping", second);
        var resumedAt = System.Text.RegularExpressions.Regex.Matches(second, @"(?m)^step (\d+)/500").Select(m => long.Parse(m.Groups[1].Value)).ToList();
        Assert.True(resumedAt.Count > 0 && resumedAt[0] >= stoppedAfter, $"the second up's first step is {resumedAt.FirstOrDefault()}, before the {stoppedAfter} reached first:\n{second}");
        Assert.Contains("demo v0001: 64 samples (seeds 0-63) saved to", second);
    }
}
