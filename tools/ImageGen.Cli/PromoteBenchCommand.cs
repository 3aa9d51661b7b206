using System.Diagnostics;
using Azure.Storage.Blobs;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Cli;

/// <summary>
/// imagegen bench promote: requests at a fixed concurrency against a running server while latest moves from one
/// version to another (what POST .../models/{version}/promote does to storage). Prints how long after the promotion
/// the new version was first served and the old one last served, against the server's revalidation interval, every
/// status that was not 200, and the latency of the first requests the new version answered against the warm p99 before
/// the promotion (what a publish costs the requests that meet it).
/// </summary>
public static class PromoteBenchCommand
{
    public static async Task<int> RunAsync(Args args, TextWriter output)
    {
        var uri = HttpBenchCommand.LoopbackUrl(args);
        var registry = new ModelRegistry(new BlobServiceClient(StorageConnection.LocalConnectionString(args.String("--storage"))));
        string dataset = StorageLayout.ValidateName(args.String("--dataset") ?? "fmnist", "dataset");
        string from = args.Required("--from"), to = args.Required("--to");
        int concurrency = args.Int("--concurrency", 1, 1024) ?? 16;
        var duration = args.Duration("--duration") ?? TimeSpan.FromSeconds(20);
        var promoteAt = args.Duration("--promote-at") ?? TimeSpan.FromSeconds(5);
        var settle = args.Duration("--settle") ?? TimeSpan.FromSeconds(6);
        string path = $"/api/datasets/{dataset}/samples?count=1";

        await registry.PromoteAsync(dataset, from, DateTimeOffset.UtcNow);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(100) };
        await Task.Delay(settle); // past the server's revalidation interval: every request starts on `from`
        var responses = new System.Collections.Concurrent.ConcurrentQueue<(double At, int Status, string Version, double Ms)>();
        var clock = Stopwatch.StartNew();
        async Task Worker()
        {
            while (clock.Elapsed < duration)
            {
                long sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.GetAsync(path);
                    await response.Content.ReadAsByteArrayAsync();
                    string version = response.Headers.TryGetValues("X-Model-Version", out var v) ? v.Single() : "";
                    responses.Enqueue((clock.Elapsed.TotalSeconds, (int)response.StatusCode, version, Stopwatch.GetElapsedTime(sent).TotalMilliseconds));
                }
                catch (HttpRequestException e) { responses.Enqueue((clock.Elapsed.TotalSeconds, 0, e.Message, Stopwatch.GetElapsedTime(sent).TotalMilliseconds)); }
            }
        }
        var load = Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        await Task.Delay(promoteAt);
        double promotedAt = clock.Elapsed.TotalSeconds;
        await registry.PromoteAsync(dataset, to, DateTimeOffset.UtcNow);
        double promoteSeconds = clock.Elapsed.TotalSeconds - promotedAt;
        await load;

        var all = responses.ToList();
        var failed = all.Where(r => r.Status != 200).ToList();
        double? firstNew = all.Where(r => r.Version == to).Select(r => (double?)r.At).Min();
        double? lastOld = all.Where(r => r.Version == from && r.At > promotedAt).Select(r => (double?)r.At).Max();
        output.WriteLine($"bench promote: {uri}{path.TrimStart('/')} concurrency={concurrency}, {duration.TotalSeconds:0} s, latest {from} -> {to} " +
                         $"at {promotedAt:0.0} s (the write took {promoteSeconds * 1000:0} ms), {Environment.ProcessorCount} cores");
        output.WriteLine($"requests: {all.Count} ({all.Count / duration.TotalSeconds:0}/s), not 200: {failed.Count}" +
                         (failed.Count == 0 ? "" : " (" + string.Join(", ", failed.GroupBy(r => r.Status).Select(g => $"{g.Key} x{g.Count()}")) + ")"));
        output.WriteLine($"first response from {to}: {(firstNew is { } n ? $"{n - promotedAt:0.00} s after the promotion" : "never")}; " +
                         $"last from {from}: {(lastOld is { } o ? $"{o - promotedAt:0.00} s after" : "none after it")}");
        output.WriteLine($"served by {from}: {all.Count(r => r.Version == from)}, by {to}: {all.Count(r => r.Version == to)}");
        // The warm p99: the second before the promotion (every model loaded, nothing changing); against it, the first
        // requests answered by the new version (the ones that met its load, if it was not warm yet).
        var warm = all.Where(r => r.Status == 200 && r.At > promotedAt - 1 && r.At <= promotedAt).Select(r => r.Ms).ToList();
        var firstOnNew = all.Where(r => r.Version == to).OrderBy(r => r.At).Take(concurrency).Select(r => r.Ms).ToList();
        if (warm.Count > 0 && firstOnNew.Count > 0)
        {
            double warmP99 = BenchCommand.Percentile(warm, 99);
            output.WriteLine($"latency ms: warm p50 {BenchCommand.Percentile(warm, 50):0.0}, p99 {warmP99:0.0} (the second before the promotion, {warm.Count} requests); " +
                $"the first {firstOnNew.Count} answered by {to}: median {BenchCommand.Percentile(firstOnNew, 50):0.0}, max {firstOnNew.Max():0.0}, " +
                $"{firstOnNew.Count(ms => ms > warmP99)} over the warm p99");
        }
        return failed.Count == 0 ? 0 : 1;
    }
}
