using System.Diagnostics;
using System.Net;

namespace ImageGen.Cli;

/// <summary>
/// imagegen bench http: a load generator, run as its own process against a server on 127.0.0.1.
/// Prints requests/s, images/s, latency percentiles, status counts, and the server's RSS when given its pid.
/// </summary>
public static class HttpBenchCommand
{
    public static async Task<int> RunAsync(Args args, TextWriter output)
    {
        string baseUrl = args.String("--url") ?? "http://127.0.0.1:5080";
        var uri = new Uri(baseUrl);
        if (!IPAddress.TryParse(uri.Host, out var address) || !IPAddress.IsLoopback(address))
            throw new UsageException($"--url '{baseUrl}' must be a loopback address (127.0.0.1 or [::1]): load goes to this machine only");
        string path = args.String("--path") ?? "/api/datasets/fmnist/samples?count=16&seed=1";
        int concurrency = args.Int("--concurrency", 1, 1024) ?? 1;
        int requests = args.Int("--requests", 1, 1_000_000) ?? 200;
        int warmup = args.Int("--warmup", 0, 100_000) ?? 10;
        int imagesPerRequest = args.Int("--images-per-request", 1, 256) ?? 16;
        int? serverPid = args.Int("--server-pid", 1, int.MaxValue);
        TimeSpan limit = args.Duration("--time-limit") ?? TimeSpan.FromMinutes(10);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(100) };
        for (int i = 0; i < warmup; i++) (await http.GetAsync(path)).Dispose();

        var latencies = new double[requests];
        var statuses = new int[requests];
        int next = -1;
        long? rssAt1000 = null;
        var clock = Stopwatch.StartNew();
        async Task Worker()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= requests || clock.Elapsed > limit) return;
                var started = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(path);
                await response.Content.ReadAsByteArrayAsync();
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                statuses[i] = (int)response.StatusCode;
                if (serverPid is { } pid && (i + 1) % 1000 == 0)
                {
                    long rss = Rss(pid);
                    if (i == 999) rssAt1000 = rss;
                    Console.Error.WriteLine($"  {i + 1} requests: server RSS {rss / 1048576.0:0} MiB");
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        double seconds = clock.Elapsed.TotalSeconds;
        int done = Math.Min(requests, next);
        var measured = latencies.Take(done).Where((_, i) => statuses[i] != 0).ToList();
        int ok = statuses.Count(s => s == 200);
        output.WriteLine($"bench http: {baseUrl}{path} concurrency={concurrency} requests={done} warmup={warmup}, {Environment.ProcessorCount} cores");
        output.WriteLine($"requests/s: {done / seconds:0.0}  images/s: {ok * imagesPerRequest / seconds:0}");
        output.WriteLine($"latency ms: p50 {BenchCommand.Percentile(measured, 50):0.00}  p90 {BenchCommand.Percentile(measured, 90):0.00}  p99 {BenchCommand.Percentile(measured, 99):0.00}");
        output.WriteLine("status: " + string.Join(", ", statuses.Take(done).GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}")));
        if (serverPid is { } serverProcess)
        {
            long end = Rss(serverProcess);
            output.WriteLine($"server RSS MiB: " + (rssAt1000 is { } r ? $"request 1000 {r / 1048576.0:0}, " : "") + $"end {end / 1048576.0:0}" +
                (rssAt1000 is { } r2 ? $" ({100.0 * (end - r2) / r2:+0.0;-0.0}%)" : ""));
        }
        return 0;
    }

    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }
}
