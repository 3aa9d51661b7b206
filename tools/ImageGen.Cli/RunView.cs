using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ImageGen.Cli;

/// <summary>
/// A training run as up follows it, from the status endpoint's answers: its stage, step and total, losses, images/s,
/// ETA, and the generator's (or the VAE's) loss over the steps seen; before the first step, what the stage is doing
/// (ingest's counts, the clusters' messages). Drawn in a terminal as Spectre.Console's live display (<see cref="Render"/>),
/// and elsewhere (CI logs, tests) as plain lines (<see cref="Line"/>).
/// </summary>
public sealed class RunView(string dataset)
{
    public string? State { get; private set; }
    public bool Running { get; private set; }
    public long Step { get; private set; }
    public long? TotalSteps { get; private set; }
    public IReadOnlyDictionary<string, double> Losses { get; private set; } = new Dictionary<string, double>();
    public double? ImagesPerSecond { get; private set; }
    public double? EtaSeconds { get; private set; }
    /// <summary>The loss drawn as a sparkline, one point per progress report.</summary>
    public List<double> LossHistory { get; } = [];
    public string? SparklineLoss { get; private set; }
    public TimeSpan Elapsed { get; set; }
    /// <summary>
    /// What the stage reports before training steps come: ingest's counts while ingesting; then, as training begins, the
    /// images ingest held out, and the clusters' messages while the training stage finds them (a minute or more on a
    /// large unlabelled drop); null once steps come or the stage ends.
    /// </summary>
    public string? Activity { get; private set; }

    /// <summary>Takes one status answer; true when the stage changed.</summary>
    public bool Update(JsonElement body)
    {
        if (!body.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.Object) return false;
        string state = status.GetProperty("state").GetString()!;
        Running = body.GetProperty("running").GetBoolean();
        bool changed = state != State;
        State = state;
        if (changed) Activity = null;
        if (changed && state == "training" && Number(status, "heldOut") is > 0 and var heldOut)
            Activity = $"ingest: {heldOut:0} of the {Number(status, "accepted"):0} accepted images held out of training, for the near-copy check";
        var report = body.TryGetProperty("live", out var live) && live.ValueKind == JsonValueKind.Object ? live : default;
        // The progress blob can still hold the previous stage's last report, so each state takes only its own stages.
        string? reported = report.ValueKind == JsonValueKind.Object && report.TryGetProperty("stage", out var stage) ? stage.GetString() : null;
        if (state == "ingesting" && reported == "ingest")
            Activity = $"ingest: {Number(report, "seen"):0} seen, {Number(report, "accepted"):0} accepted, {Number(report, "rejected"):0} rejected";
        if (state == "training" && reported == "clustering" && report.TryGetProperty("message", out var message))
            Activity = message.GetString();
        // Past training (evaluating, publishing, ended) the run's own record is newer than the last live report.
        if (state != "training" && Number(status, "step") is { } recorded && recorded > Step) Step = (long)recorded;
        if (state != "training" && Number(status, "totalSteps") is { } recordedTotal) TotalSteps = (long)recordedTotal;
        if (state == "training" && reported == "training" && report.TryGetProperty("step", out var step) && step.GetInt64() > 0)
        {
            Activity = null;
            bool moved = step.GetInt64() != Step;
            Step = step.GetInt64();
            TotalSteps = Number(report, "totalSteps") is { } t ? (long)t : null;
            ImagesPerSecond = Number(report, "imagesPerSecond");
            EtaSeconds = Number(report, "etaSeconds");
            if (report.TryGetProperty("losses", out var losses) && losses.ValueKind == JsonValueKind.Object)
            {
                Losses = losses.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
                SparklineLoss ??= new[] { "loss_g", "loss" }.FirstOrDefault(Losses.ContainsKey) ?? Losses.Keys.FirstOrDefault();
                if (moved && SparklineLoss is not null && Losses.TryGetValue(SparklineLoss, out double value)) LossHistory.Add(value);
            }
        }
        return changed;
    }

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    /// <summary>Whether the run has ended (published, failed, cancelled or diverged, and nothing runs).</summary>
    public bool Ended => !Running && State is "published" or "failed" or "cancelled" or "diverged";

    /// <summary>The progress line written when the output is not a terminal.</summary>
    public string Line()
    {
        string total = TotalSteps is { } t ? $"/{t}" : "";
        string losses = string.Join(" ", Losses.Select(p => $"{p.Key} {p.Value:0.000}"));
        string rate = ImagesPerSecond is { } r ? $" {r:0} img/s" : "";
        string eta = EtaSeconds is { } e ? $" ETA {TimeSpan.FromSeconds(e):mm\\:ss}" : "";
        return $"step {Step}{total} {losses}{rate}{eta}";
    }

    private static readonly char[] Bars = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

    /// <summary>The last <paramref name="width"/> values as block characters, lowest to highest over their own range.</summary>
    public static string Sparkline(IReadOnlyList<double> values, int width)
    {
        var shown = values.Skip(Math.Max(0, values.Count - width)).Where(double.IsFinite).ToList();
        if (shown.Count == 0) return "";
        double lo = shown.Min(), span = shown.Max() - lo;
        return new string(shown.Select(v => Bars[span > 0 ? (int)Math.Round((v - lo) / span * (Bars.Length - 1)) : Bars.Length / 2]).ToArray());
    }

    /// <summary>The live display: stage, a progress bar with step and total, the losses, images/s and ETA, the loss sparkline.</summary>
    public IRenderable Render()
    {
        var rows = new List<IRenderable>
        {
            new Markup($"[bold]{Markup.Escape(dataset)}[/]  stage [yellow]{Markup.Escape(State ?? "waiting")}[/]  [grey]{Elapsed:mm\\:ss}[/]"),
        };
        if (Activity is not null) rows.Add(new Markup($"[grey]{Markup.Escape(Activity)}[/]"));
        if (Step > 0)
        {
            double done = TotalSteps is { } total and > 0 ? Math.Min(1, (double)Step / total) : 0;
            int filled = (int)Math.Round(40 * done);
            rows.Add(new Markup($"[green]{new string('━', filled)}[/][grey]{new string('━', 40 - filled)}[/] step {Step}{(TotalSteps is { } t ? $"/{t}" : "")} ({done * 100:0}%)"));
            var table = new Table().Border(TableBorder.Rounded).AddColumn("loss").AddColumn(new TableColumn("value").RightAligned());
            foreach (var (name, value) in Losses) table.AddRow(Markup.Escape(name), $"{value:0.000}");
            rows.Add(table);
            rows.Add(new Markup($"{(ImagesPerSecond is { } r ? $"{r:0} images/s" : "")}{(EtaSeconds is { } e ? $"   ETA {TimeSpan.FromSeconds(e):mm\\:ss}" : "")}"));
            if (LossHistory.Count > 1)
                rows.Add(new Markup($"{Markup.Escape(SparklineLoss!)} [blue]{Sparkline(LossHistory, 60)}[/] [grey]{LossHistory[^1]:0.000}[/]"));
        }
        return new Panel(new Rows(rows)).Header("imagegen up").Border(BoxBorder.Rounded);
    }

    /// <summary>Whether the live display can be drawn: the output is this process's own terminal.</summary>
    public static bool Interactive(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
}
