namespace ImageGen.Cli;

/// <summary>One line of a chart: its name in the legend and its points.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>Line charts as PNG files (ScottPlot), for training runs and benchmarks.</summary>
public static class Charts
{
    public static void SaveLines(string path, string title, string xLabel, string yLabel, IEnumerable<ChartSeries> series, bool logY = false)
    {
        var plot = new ScottPlot.Plot();
        foreach (var line in series.Where(s => s.X.Count > 0))
        {
            var ys = logY ? line.Y.Select(y => Math.Log10(Math.Max(y, 1e-9))).ToArray() : line.Y.ToArray();
            var scatter = plot.Add.Scatter(line.X.ToArray(), ys);
            scatter.LegendText = line.Name;
            scatter.MarkerSize = line.X.Count > 40 ? 0 : 5;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(logY ? $"{yLabel} (log10)" : yLabel);
        plot.ShowLegend();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 540);
    }
}
