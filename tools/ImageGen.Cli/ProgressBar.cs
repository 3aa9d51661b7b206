using ImageGen.Core.Training;

namespace ImageGen.Cli;

/// <summary>
/// Draws training progress on one redrawn line in a terminal (at most 10 times a second), or one line
/// every few seconds when output is redirected (CI logs).
/// </summary>
public sealed class ProgressBar(TextWriter output) : IProgress<TrainingProgress>
{
    private readonly bool interactive = !Console.IsErrorRedirected;
    private DateTime lastDraw = DateTime.MinValue;

    private bool drawn;

    public void Report(TrainingProgress p)
    {
        bool milestone = p.SampleGrid is not null;
        string bar = "";
        if (p.TotalSteps is { } total && total > 0)
        {
            int filled = (int)Math.Round(24.0 * Math.Min(p.Step, total) / total);
            bar = $"[{new string('#', filled)}{new string('-', 24 - filled)}] ";
        }
        string losses = string.Join(" ", p.Losses.Select(kv => $"{kv.Key} {kv.Value:0.000}"));
        string eta = p.Eta is { } e ? $" ETA {e:hh\\:mm\\:ss}" : "";
        if (!Line($"{bar}epoch {p.Epoch} step {p.Step}{(p.TotalSteps is { } t ? "/" + t : "")} {losses} {p.ImagesPerSecond:0} img/s{eta}", force: milestone)) return;
        if (milestone)
        {
            Finish();
            output.WriteLine($"  samples: {p.SampleGrid}");
        }
    }

    /// <summary>Draws a progress line (throttled unless forced); false when it was skipped.</summary>
    public bool Line(string line, bool force = false)
    {
        var now = DateTime.UtcNow;
        if (!force && now - lastDraw < (interactive ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(5))) return false;
        lastDraw = now;
        if (interactive) output.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 120, 200)));
        else output.WriteLine(line);
        drawn = true;
        return true;
    }

    /// <summary>Ends the redrawn line, if one was drawn.</summary>
    public void Finish()
    {
        if (interactive && drawn) output.WriteLine();
        drawn = false;
    }
}

/// <summary>Progress in words, written as it comes, one line each (IProgress on the reporting thread, unlike Progress&lt;T&gt;).</summary>
public sealed class LineProgress(TextWriter output) : IProgress<string>
{
    public void Report(string line) => output.WriteLine(line);
}
