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

    public void Report(TrainingProgress p)
    {
        var now = DateTime.UtcNow;
        bool milestone = p.SampleGrid is not null;
        if (!milestone && now - lastDraw < (interactive ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(5))) return;
        lastDraw = now;
        string bar = "";
        if (p.TotalSteps is { } total && total > 0)
        {
            int filled = (int)Math.Round(24.0 * Math.Min(p.Step, total) / total);
            bar = $"[{new string('#', filled)}{new string('-', 24 - filled)}] ";
        }
        string losses = string.Join(" ", p.Losses.Select(kv => $"{kv.Key} {kv.Value:0.000}"));
        string eta = p.Eta is { } e ? $" ETA {e:hh\\:mm\\:ss}" : "";
        string line = $"{bar}epoch {p.Epoch} step {p.Step}{(p.TotalSteps is { } t ? "/" + t : "")} {losses} {p.ImagesPerSecond:0} img/s{eta}";
        if (interactive) output.Write("\r" + line.PadRight(Math.Min(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 120, 200)));
        else output.WriteLine(line);
        if (milestone)
        {
            if (interactive) output.WriteLine();
            output.WriteLine($"  samples: {p.SampleGrid}");
        }
    }

    public void Finish() { if (interactive) output.WriteLine(); }
}
