namespace ImageGen.Pipeline.Storage;

/// <summary>How much machine-local disk the pipeline may keep, and for how long.</summary>
public sealed record LocalDiskLimits
{
    /// <summary>All cached dataset versions and quality references together; the least recently used go first.</summary>
    public long MaxCacheBytes { get; init; } = 4L << 30;
    /// <summary>A cached version not used for this long is removed whatever the total.</summary>
    public TimeSpan MaxCacheAge { get; init; } = TimeSpan.FromDays(7);
    /// <summary>A cache entry used this recently is never removed (a chunk may be reading it now).</summary>
    public TimeSpan InUseWindow { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>
    /// Scratch folders (ingest downloads, run folders, half-finished cache downloads) are removed in a finally; one
    /// whose owning process is gone, or one older than this, was left by a crash. Longer than any activity may run
    /// (host.json's functionTimeout).
    /// </summary>
    public TimeSpan ScratchAge { get; init; } = TimeSpan.FromHours(6);
}

public sealed record DiskSweep(int CacheEntriesRemoved, int ScratchRemoved, long BytesFreed, long CacheBytesKept);

/// <summary>
/// Keeps the pipeline's local disk bounded: the caches of packed dataset versions and quality references (under the
/// temp folder, imagegen-{kind}/{account}/{dataset}/{version}) by size and age, and the scratch a crash left behind.
/// Runs at start-up and after each cache download.
/// </summary>
public static class LocalDisk
{
    public static readonly string[] CacheKinds = ["datasets", "quality"];
    /// <summary>Per-activity scratch folders under the temp folder, and the CLI packer's imagegen-pack-* folders.</summary>
    public static readonly string[] ScratchFolders = ["imagegen-ingest", "imagegen-runs"];
    private const string PackScratchPattern = "imagegen-pack-*";
    private const string PartialMarker = ".partial-";

    /// <summary>
    /// A scratch name that says which process owns it (pid1234-...): a sweep removes the scratch of a process that is
    /// gone at once, whatever its age, and another live process's only after ScratchAge.
    /// </summary>
    public static string OwnedName(string name) => $"pid{Environment.ProcessId}-{name}";

    private static bool OwnerIsGone(string path)
    {
        var match = System.Text.RegularExpressions.Regex.Match(Path.GetFileName(path), @"(?:^|\.partial-)pid(\d{1,9})-");
        if (!match.Success) return false;
        int pid = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var owner = System.Diagnostics.Process.GetProcessById(pid);
            return owner.HasExited;
        }
        catch (ArgumentException) { return true; } // no such process
        catch (InvalidOperationException) { return true; }
    }

    /// <summary>Records a use of a cache entry, so the least-recently-used order and the in-use window see it.</summary>
    public static void MarkUsed(string cacheFolder)
    {
        try { Directory.SetLastWriteTimeUtc(cacheFolder, DateTime.UtcNow); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static DiskSweep Sweep(LocalDiskLimits? limits = null, string? root = null, DateTime? nowUtc = null)
    {
        limits ??= new LocalDiskLimits();
        root ??= Path.GetTempPath();
        var now = nowUtc ?? DateTime.UtcNow;
        int scratchRemoved = 0, cacheRemoved = 0;
        long freed = 0;

        var scratch = ScratchFolders.Select(f => Path.Combine(root, f)).Where(Directory.Exists).SelectMany(Directory.EnumerateFileSystemEntries)
            .Concat(Directory.Exists(root) ? Directory.EnumerateDirectories(root, PackScratchPattern) : []);
        var entries = new List<(string Path, DateTime Used, long Bytes)>();
        foreach (var kind in CacheKinds.Select(k => Path.Combine(root, "imagegen-" + k)).Where(Directory.Exists))
            foreach (var version in Directory.EnumerateDirectories(kind).SelectMany(Directory.EnumerateDirectories).SelectMany(Directory.EnumerateDirectories))
            {
                if (Path.GetFileName(version).Contains(PartialMarker)) scratch = scratch.Append(version);
                else entries.Add((version, Directory.GetLastWriteTimeUtc(version), SizeOf(version)));
            }

        foreach (var path in scratch.ToList())
            if ((OwnerIsGone(path) || now - LastWrite(path) > limits.ScratchAge) && TryDelete(path, out long bytes)) { scratchRemoved++; freed += bytes; }

        long total = entries.Sum(e => e.Bytes);
        foreach (var entry in entries.OrderBy(e => e.Used))
        {
            bool stale = now - entry.Used > limits.MaxCacheAge, over = total > limits.MaxCacheBytes;
            if (!(stale || over) || now - entry.Used < limits.InUseWindow) continue;
            if (TryDelete(entry.Path, out long bytes)) { cacheRemoved++; freed += bytes; total -= entry.Bytes; }
        }
        return new DiskSweep(cacheRemoved, scratchRemoved, freed, total);
    }

    /// <summary>The bytes the pipeline keeps under the temp folder: the caches and the scratch folders.</summary>
    public static long UsedBytes(string? root = null)
    {
        root ??= Path.GetTempPath();
        return CacheKinds.Select(k => "imagegen-" + k).Concat(ScratchFolders).Select(f => Path.Combine(root, f)).Where(Directory.Exists).Sum(SizeOf);
    }

    private static DateTime LastWrite(string path) => Directory.Exists(path) ? Directory.GetLastWriteTimeUtc(path) : File.GetLastWriteTimeUtc(path);

    private static long SizeOf(string folder)
    {
        try { return new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length); }
        catch (IOException) { return 0; }
    }

    /// <summary>Deletes a file or folder; another process may hold or remove it meanwhile, which is not an error here.</summary>
    private static bool TryDelete(string path, out long bytes)
    {
        bytes = File.Exists(path) ? new FileInfo(path).Length : Directory.Exists(path) ? SizeOf(path) : 0;
        try
        {
            if (File.Exists(path)) File.Delete(path);
            else if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else return false;
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
