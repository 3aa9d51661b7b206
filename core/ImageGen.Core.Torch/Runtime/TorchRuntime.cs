using System.Runtime.InteropServices;
using TorchSharp;

namespace ImageGen.Core.Runtime;

/// <summary>
/// Process-wide settings that decide TorchSharp's speed here: thread count and glibc's allocator.
/// glibc returns freed tensor memory to the kernel and refaults it every step; raising the mmap/trim
/// thresholds keeps it (measured 1.6x to 2.5x faster DCGAN steps on this machine kind).
/// </summary>
public static partial class TorchRuntime
{
    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3, M_ARENA_MAX = -8;
    private const int ArenaMax = 2; // one arena per core: tensors freed on other threads (servers) do not fragment new arenas
    private const int MmapThresholdBytes = 32 * 1024 * 1024; // glibc's maximum
    private const int TrimThresholdBytes = 256 * 1024 * 1024;
    private const int TopPadBytes = 64 * 1024 * 1024;
    private static bool allocatorTuned;
    /// <summary>libgomp spin iterations before a waiting thread sleeps: about a millisecond here (libgomp's default is 300,000).</summary>
    public const int ServingSpinCount = 100_000;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Applies the allocator settings (Linux with glibc only; once) and the thread count (default: all cores).
    /// serving: libtorch's OpenMP threads spin for a bounded while (GOMP_SPINCOUNT=ServingSpinCount) before they
    /// sleep, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set. A forward pass is dozens of parallel regions back to
    /// back: sleeping between them (PASSIVE) made a served 16-image pass ~30% slower than in a loop, and spinning
    /// for ever (ACTIVE, or libgomp's default between requests) takes cores from the HTTP stack. See docs/benchmarks.md.
    /// Must run before the first tensor: libtorch's OpenMP reads the variables when it loads.
    /// </summary>
    public static void Configure(int? threads = null, bool tuneAllocator = true, bool serving = false)
    {
        if (serving && OperatingSystem.IsLinux())
        {
            try
            {
                if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
                    SetEnv("GOMP_SPINCOUNT", ServingSpinCount.ToString(System.Globalization.CultureInfo.InvariantCulture), overwrite: 0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
        if (tuneAllocator && !allocatorTuned && OperatingSystem.IsLinux())
        {
            try
            {
                allocatorTuned = Mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) == 1
                    & Mallopt(M_TRIM_THRESHOLD, TrimThresholdBytes) == 1
                    & Mallopt(M_TOP_PAD, TopPadBytes) == 1
                    & Mallopt(M_ARENA_MAX, ArenaMax) == 1;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { allocatorTuned = false; }
        }
        torch.set_num_threads(threads ?? Environment.ProcessorCount);
    }

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);

    /// <summary>ONEDNN_MAX_CPU_ISA as libtorch sees it (the native environment, not .NET's copy), for benchmark headers.</summary>
    public static string OneDnnIsa => OperatingSystem.IsLinux() && GetEnv("ONEDNN_MAX_CPU_ISA") is var value && value != IntPtr.Zero
        ? Marshal.PtrToStringUTF8(value) ?? "default" : "default";

    public static string AllocatorDescription => allocatorTuned
        ? $"glibc mallopt mmap_threshold={MmapThresholdBytes >> 20}MiB trim_threshold={TrimThresholdBytes >> 20}MiB top_pad={TopPadBytes >> 20}MiB arena_max={ArenaMax}"
        : "default allocator";

    /// <summary>
    /// Where training runs: the first CUDA device when libtorch sees one (a build with TorchBackend=cuda on a machine with
    /// an NVIDIA driver), else the CPU. Serving, evaluation and the quality metrics stay on the CPU.
    /// </summary>
    public static torch.Device TrainingDevice => torch.cuda.is_available() ? torch.CUDA : torch.CPU;

    /// <summary>The training device's name, for benchmark headers and run descriptions: "cuda" or "cpu".</summary>
    public static string Device => TrainingDevice.type == DeviceType.CUDA ? "cuda" : "cpu";

    public static string Describe() =>
        $"TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {TorchBackendVersion}), device {Device}, " +
        $"threads {torch.get_num_threads()}, oneDNN max ISA {OneDnnIsa}, {AllocatorDescription}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}";

    private static string TorchBackendVersion => typeof(TorchRuntime).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .OfType<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "LibTorchVersion")?.Value ?? "unknown";

    public static long ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return Environment.WorkingSet;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return Environment.WorkingSet;
    }
}
