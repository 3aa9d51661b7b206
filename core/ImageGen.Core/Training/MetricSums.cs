namespace ImageGen.Core.Training;

/// <summary>Running sums of per-step scalars, averaged per epoch.</summary>
public sealed class MetricSums
{
    private readonly Dictionary<string, double> sums = [];
    public int Steps { get; private set; }
    public void Add(string name, double value) => sums[name] = sums.GetValueOrDefault(name) + value;
    public void EndStep() => Steps++;
    public Dictionary<string, double> Means() => sums.ToDictionary(kv => kv.Key, kv => Steps == 0 ? 0 : kv.Value / Steps);
    public void Clear() { sums.Clear(); Steps = 0; }
}
