using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ImageGen.Core.Imaging;
using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen bench http: a load generator, run as its own process against a server on 127.0.0.1.
/// Prints requests/s, images/s, latency percentiles, status counts, and the server's RSS when given its pid.
/// </summary>
public static class HttpBenchCommand
{
    public static async Task<int> RunAsync(Args args, TextWriter output)
    {
        var uri = LoopbackUrl(args);
        string baseUrl = uri.ToString().TrimEnd('/');
        string path = args.String("--path") ?? "/api/datasets/fmnist/samples?count=16&seed=1";
        int concurrency = args.Int("--concurrency", 1, 1024) ?? 1;
        int requests = args.Int("--requests", 1, 1_000_000) ?? 200;
        int warmup = args.Int("--warmup", 0, 100_000) ?? 10;
        int imagesPerRequest = args.Int("--images-per-request", 1, 256) ?? 16;
        int? serverPid = args.Int("--server-pid", 1, int.MaxValue);
        TimeSpan limit = args.Duration("--time-limit") ?? TimeSpan.FromMinutes(10);

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = uri, Timeout = limit + TimeSpan.FromMinutes(1) }; // a slow answer is measured, not given up on
        for (int i = 0; i < warmup; i++) (await http.GetAsync(path)).Dispose();

        var latencies = new double[requests];
        var statuses = new int[requests];
        var serverTimings = new ServerTimings();
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
                serverTimings.Add(response);
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
        if (!serverTimings.IsEmpty) output.WriteLine(serverTimings.Summary());
        output.WriteLine("status: " + string.Join(", ", statuses.Take(done).GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}")));
        if (serverPid is { } serverProcess)
        {
            long end = Rss(serverProcess);
            output.WriteLine($"server RSS MiB: " + (rssAt1000 is { } r ? $"request 1000 {r / 1048576.0:0}, " : "") + $"end {end / 1048576.0:0}" +
                (rssAt1000 is { } r2 ? $" ({100.0 * (end - r2) / r2:+0.0;-0.0}%)" : "") + $", peak since start {Rss(serverProcess, "VmHWM:") / 1048576.0:0}");
        }
        return 0;
    }

    /// <summary>
    /// imagegen bench overhead: what the HTTP path adds over the bare forward pass + PNG grid of the same images.
    /// Alternates blocks of bare samples (in this process, from the checkpoint the server publishes) with blocks of
    /// requests at concurrency 1, so the machine's drift reaches both sides alike, and checks once that both give
    /// the same PNG bytes. Prints p50/p99 of each side, the server's own timing, and the overhead at the median.
    /// Everything runs on the calling thread, as the server's forward passes run on its one worker thread: libtorch's
    /// OpenMP team belongs to the thread that calls it, so bare passes hopping between pool threads after each await
    /// would start new teams and measure a slower baseline than the truth.
    /// </summary>
    public static int Overhead(Args args, TextWriter output)
    {
        var uri = LoopbackUrl(args);
        string dataset = args.String("--dataset") ?? "fmnist";
        string checkpoint = args.Required("--checkpoint");
        int count = args.Int("--count", 1, 256) ?? 16;
        int rounds = args.Int("--rounds", 1, 10_000) ?? 10;
        int block = args.Int("--block", 1, 10_000) ?? 20;
        int warmup = args.Int("--warmup", 0, 100_000) ?? 300;
        CliApp.ConfigureRuntime(args);
        using var sampler = ImageSampler.Load(checkpoint);
        var seeds = Seeds.Range(1, count);
        string path = $"/api/datasets/{Uri.EscapeDataString(dataset)}/samples?count={count}&seed=1";
        using var http = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(100) };

        var serverTimings = new ServerTimings();
        (double Ms, byte[] Body) Request(bool measured = false)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = http.Send(new HttpRequestMessage(HttpMethod.Get, path));
            using var buffer = new MemoryStream();
            response.Content.ReadAsStream().CopyTo(buffer);
            var body = buffer.ToArray();
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (response.StatusCode != HttpStatusCode.OK)
                throw new UsageException($"{uri}{path.TrimStart('/')} answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}");
            if (measured) serverTimings.Add(response);
            return (ms, body);
        }

        var served = Request();
        using (var inference = torch.inference_mode())
        using (var scope = torch.NewDisposeScope())
            if (!SameImage(served.Body, TensorImages.EncodeGridPng(sampler.Generate(seeds))))
                throw new UsageException($"the server's grid for seeds 1..{count} differs from {checkpoint}'s: publish that checkpoint as {dataset}'s latest model first");
        for (int i = 0; i < warmup; i++)
        {
            BenchCommand.TimeBareSample(sampler.Generator, seeds);
            Request();
        }

        List<double> bareForward = [], bare = [], overHttp = [], roundRatios = [];
        for (int round = 0; round < rounds; round++)
        {
            List<double> roundBare = [], roundHttp = [];
            for (int i = 0; i < block; i++)
            {
                var (forwardMs, totalMs) = BenchCommand.TimeBareSample(sampler.Generator, seeds);
                bareForward.Add(forwardMs);
                roundBare.Add(totalMs);
            }
            for (int i = 0; i < block; i++)
            {
                roundHttp.Add(Request(measured: true).Ms);
            }
            bare.AddRange(roundBare);
            overHttp.AddRange(roundHttp);
            roundRatios.Add(BenchCommand.Percentile(roundHttp, 50) / BenchCommand.Percentile(roundBare, 50));
        }

        double bareP50 = BenchCommand.Percentile(bare, 50), httpP50 = BenchCommand.Percentile(overHttp, 50);
        output.WriteLine($"bench overhead: {uri}{path.TrimStart('/')} vs bare {checkpoint}, count={count}, {rounds} rounds of {block} + {block}, warmup {warmup}");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");
        output.WriteLine($"bare latents + forward ms: p50 {BenchCommand.Percentile(bareForward, 50):0.00}  p99 {BenchCommand.Percentile(bareForward, 99):0.00}");
        output.WriteLine($"bare with PNG grid ms:     p50 {bareP50:0.00}  p99 {BenchCommand.Percentile(bare, 99):0.00}");
        output.WriteLine($"through HTTP ms:           p50 {httpP50:0.00}  p99 {BenchCommand.Percentile(overHttp, 99):0.00}");
        output.WriteLine(serverTimings.Summary());
        output.WriteLine($"HTTP overhead at p50: {100 * (httpP50 / bareP50 - 1):+0.0;-0.0}% (median of the rounds' own ratios {100 * (BenchCommand.Percentile(roundRatios, 50) - 1):+0.0;-0.0}%)");
        return 0;
    }

    internal static Uri LoopbackUrl(Args args)
    {
        string baseUrl = args.String("--url") ?? "http://127.0.0.1:5080";
        var uri = new Uri(baseUrl);
        if (!IPAddress.TryParse(uri.Host, out var address) || !IPAddress.IsLoopback(address))
            throw new UsageException($"--url '{baseUrl}' must be a loopback address (127.0.0.1 or [::1]): load goes to this machine only");
        return uri;
    }

    /// <summary>The Server-Timing durations of the responses seen, by name; thread-safe.</summary>
    private sealed class ServerTimings
    {
        private static readonly string[] Order = ["queue", "latents", "forward", "pixels", "encode", "total"];
        private readonly ConcurrentDictionary<string, ConcurrentBag<double>> durations = new();

        public bool IsEmpty => durations.IsEmpty;

        public void Add(HttpResponseMessage response)
        {
            if (!response.Headers.TryGetValues("Server-Timing", out var header)) return;
            foreach (var (name, ms) in ParseServerTiming(string.Join(',', header))) durations.GetOrAdd(name, _ => []).Add(ms);
        }

        public string Summary() => "server timing p50 ms: " + string.Join("  ", durations
            .OrderBy(t => Array.IndexOf(Order, t.Key) is var rank and >= 0 ? rank : Order.Length)
            .Select(t => $"{t.Key} {BenchCommand.Percentile([.. t.Value], 50):0.00}"));
    }

    /// <summary>"name;dur=1.5;desc=\"...\", other;dur=2" to (name, milliseconds) pairs; entries without dur are skipped.</summary>
    public static IEnumerable<(string Name, double Milliseconds)> ParseServerTiming(string header)
    {
        foreach (var entry in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            foreach (var part in parts.Skip(1))
                if (part.StartsWith("dur=", StringComparison.Ordinal) &&
                    double.TryParse(part.AsSpan(4), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ms))
                    yield return (parts[0], ms);
        }
    }

    /// <summary>The process's resident set (VmRSS), or its peak since start (VmHWM), in bytes.</summary>
    private static long Rss(int pid, string field = "VmRSS:")
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    /// <summary>
    /// Two PNGs of the same size whose pixels differ by at most one level: the same images from either backend (ONNX
    /// Runtime and libtorch agree within one level in 255), where byte equality would tell backends apart, not models.
    /// </summary>
    private static bool SameImage(byte[] pngA, byte[] pngB)
    {
        using var a = SkiaSharp.SKBitmap.Decode(pngA);
        using var b = SkiaSharp.SKBitmap.Decode(pngB);
        if (a is null || b is null || a.Width != b.Width || a.Height != b.Height) return false;
        for (int y = 0; y < a.Height; y++)
            for (int x = 0; x < a.Width; x++)
            {
                var (p, q) = (a.GetPixel(x, y), b.GetPixel(x, y));
                if (Math.Abs(p.Red - q.Red) > 1 || Math.Abs(p.Green - q.Green) > 1 || Math.Abs(p.Blue - q.Blue) > 1) return false;
            }
        return true;
    }
}
