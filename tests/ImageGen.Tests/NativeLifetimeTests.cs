using System.Reflection;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using TorchSharp;

namespace ImageGen.Tests;

/// <summary>
/// TorchSharp hands native handles to libtorch without keeping their .NET owners alive, so an implicit Scalar
/// (BatchNorm's num_batches_tracked.add_(1), every optimizer step, every `x * 0.5`) could be finalized and its
/// memory reused while libtorch still read it. The build weaves GC.KeepAlive into TorchSharp.dll
/// (tools/build/TorchSharpLifetimes.targets); these tests fail if that step is dropped.
/// </summary>
public class NativeLifetimeTests
{
    [Fact]
    public void The_loaded_TorchSharp_keeps_handle_owners_alive()
    {
        var marker = typeof(torch).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "ImageGen.HandleLifetimes");
        Assert.NotNull(marker);
        Assert.True(int.Parse(marker.Value!) > 1000, $"only {marker.Value} methods were rewritten");
    }

    /// <summary>
    /// Package files reach bin/ as hard links to the NuGet cache where the file system allows (Directory.Build.props).
    /// The two build steps that rewrite TorchSharp's files (the weaving above, and TorchSharpNativeFix's weak GLIBCXX
    /// requirement) must replace bin's link with a new file: writing through it would rewrite the cache that every
    /// other project on the machine restores from. Fails if either step writes in place.
    /// </summary>
    [Fact]
    public void The_build_rewrites_its_own_copies_of_TorchSharp_never_the_package_cache()
    {
        string cache = typeof(NativeLifetimeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NuGetPackageRoot").Value!;
        string version = typeof(torch).Assembly.GetName().Version!.ToString(3);
        string package = Path.Combine(cache, "torchsharp", version);
        Assert.True(Directory.Exists(package), $"no TorchSharp {version} in the package cache at {cache}");
        byte[] marker = System.Text.Encoding.UTF8.GetBytes("ImageGen.HandleLifetimes");

        byte[] woven = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll"));
        Assert.True(woven.AsSpan().IndexOf(marker) >= 0, "bin's TorchSharp.dll was not woven");
        string[] cached = Directory.GetFiles(Path.Combine(package, "lib"), "TorchSharp.dll", SearchOption.AllDirectories);
        Assert.NotEmpty(cached);
        foreach (string original in cached)
            Assert.True(File.ReadAllBytes(original).AsSpan().IndexOf(marker) < 0, $"{original} in the package cache was woven");

        if (!OperatingSystem.IsLinux()) return;
        byte[] weakened = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"));
        byte[] shipped = File.ReadAllBytes(Path.Combine(package, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"));
        Assert.Equal(shipped.Length, weakened.Length); // one flag changes, nothing moves
        Assert.False(shipped.AsSpan().SequenceEqual(weakened),
            "bin's libLibTorchSharp.so and the package cache's are the same bytes: either the build did not mark GLIBCXX_3.4.32 weak, or it marked it in the cache too");
    }

    /// <summary>
    /// Training on one thread, sample requests on two others, the bare BatchNorm counter increment on a fourth and
    /// forced collections with finalizers on a fifth, all in one process while training runs 30 steps (about 20 s here).
    /// Before the weaving step the counter alone failed 5 to 190 times in 20 s on this machine ("argument alpha must not be a floating point
    /// number", "Expected false to be true").
    /// </summary>
    [Fact]
    public void Training_sampling_and_forced_collections_in_one_process_never_corrupt_a_native_argument()
    {
        TestImages.EnsureRuntime();
        using var folder = new TempFolder();
        using var data = SyntheticShapes.Generate(256, 32, 1, seed: 3);
        var spec = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 8, Ndf = 8, LatentSize = 16 };
        var served = Trainer.Run(new TrainRequest
        {
            Data = data, Spec = spec, RunFolder = Path.Combine(folder.Path, "served"),
            Options = new TrainOptions { MaxSteps = 2, BatchSize = 32, Seed = 1 },
        });
        using var sampler = ImageSampler.Load(served.CheckpointPath);

        // Every worker runs until training has finished its steps and it has done its own share, so how much each does
        // is set by the test, not by how fast the machine is.
        const int trainSteps = 30, minSamples = 20, minIncrements = 10_000, minCollections = 100;
        bool trainingDone = false;
        bool Running(long done, long minimum) => !Volatile.Read(ref trainingDone) || done < minimum;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long increments = 0, samples = 0, collections = 0;
        TrainResult? trained = null;
        void Guard(string name, Action body)
        {
            try { body(); }
            catch (Exception e) { failures.Enqueue($"{name}: {e.GetType().Name}: {e.Message.Split('\n')[0]}"); }
        }

        var threads = new List<Thread>
        {
            new(() => Guard("training", () =>
            {
                try
                {
                    trained = Trainer.Run(new TrainRequest
                    {
                        Data = data, Spec = spec, RunFolder = Path.Combine(folder.Path, "trained"),
                        Options = new TrainOptions { MaxSteps = trainSteps, BatchSize = 32, Seed = 2 },
                    });
                }
                finally { Volatile.Write(ref trainingDone, true); }
            })),
            new(() => Guard("counter", () =>
            {
                using var counter = torch.tensor(0L);
                while (Running(increments, minIncrements))
                {
                    counter.add_(1); // BatchNorm's own increment, with its implicit Scalars
                    Interlocked.Increment(ref increments);
                }
                Assert.Equal(Interlocked.Read(ref increments), counter.item<long>());
            })),
            new(() => Guard("collector", () =>
            {
                while (Running(collections, minCollections))
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Interlocked.Increment(ref collections);
                    Thread.Sleep(1);
                }
            })),
        };
        for (int s = 0; s < 2; s++)
        {
            int first = s * 1000;
            threads.Add(new Thread(() => Guard("sampling", () =>
            {
                for (int i = 0; Running(samples, minSamples); i++)
                {
                    using var scope = torch.NewDisposeScope();
                    using var inference = torch.inference_mode();
                    var images = sampler.Generate(Seeds.Range(first + i % 500, 8));
                    var pixels = TensorImages.ToPixels(images);
                    Assert.Equal(8, pixels.Count);
                    Interlocked.Increment(ref samples);
                }
            })));
        }
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(10)) + $"\n({failures.Count} failures)");
        Assert.NotNull(trained);
        Assert.Equal(trainSteps, trained.Steps);
    }
}
