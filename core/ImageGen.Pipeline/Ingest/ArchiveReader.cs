using System.Formats.Tar;
using System.IO.Compression;

namespace ImageGen.Pipeline.Ingest;

/// <summary>Bounds on what one archive may expand to: a zip or tar bomb is cut off here, not in memory.</summary>
public sealed record ArchiveLimits
{
    public long MaxArchiveBytes { get; init; } = 2L * 1024 * 1024 * 1024;
    public int MaxEntries { get; init; } = 200_000;
    /// <summary>Largest single member, read at most this far whatever its header declares.</summary>
    public long MaxEntryBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>All members together, after decompression.</summary>
    public long MaxExpandedBytes { get; init; } = 8L * 1024 * 1024 * 1024;
    /// <summary>Uncompressed:compressed ratio above which a zip member is refused; images barely compress.</summary>
    public double MaxCompressionRatio { get; init; } = 100;
    public static readonly ArchiveLimits Default = new();
}

/// <summary>One member of an archive: its bytes, or why it was refused. Name is "archive.zip:path/in/archive".</summary>
public sealed record ArchiveMember(string Name, byte[]? Data, string? Rejection);

/// <summary>
/// Reads the images inside a dropped .zip, .tar, .tar.gz or .tgz one member at a time. Members whose path
/// could climb out of a folder (../, absolute, drive letters) are refused by name, as are links and members
/// that expand past the limits; an archive that is itself broken ends with one rejection for the rest.
/// </summary>
public static class ArchiveReader
{
    public static bool IsArchive(string name) =>
        name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase);

    /// <summary>The members of the archive in <paramref name="seekable"/>, lazily; at most one member's bytes are held at a time.</summary>
    public static IEnumerable<ArchiveMember> Read(string archiveName, Stream seekable, ArchiveLimits? limits = null)
    {
        limits ??= ArchiveLimits.Default;
        return archiveName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)
            ? ReadZip(archiveName, seekable, limits)
            : ReadTar(archiveName, seekable, limits, gzip: !archiveName.EndsWith(".tar", StringComparison.OrdinalIgnoreCase));
    }

    public static string? UnsafePathReason(string path)
    {
        string normalized = path.Replace('\\', '/');
        if (normalized.StartsWith('/') || (normalized.Length > 1 && normalized[1] == ':'))
            return "its path is absolute; archive members must be relative paths";
        if (normalized.Split('/').Any(segment => segment == ".."))
            return "its path climbs out of the archive with '..'; refused";
        return null;
    }

    private static IEnumerable<ArchiveMember> ReadZip(string archiveName, Stream stream, ArchiveLimits limits)
    {
        ZipArchive zip;
        string? openError = null;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { zip = null!; openError = e.Message; }
        if (openError is not null) { yield return new ArchiveMember(archiveName, null, $"not a readable zip archive: {openError}"); yield break; }
        using (zip)
        {
            long expanded = 0;
            int index = 0;
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a folder
                string name = $"{archiveName}:{entry.FullName}";
                if (++index > limits.MaxEntries)
                {
                    yield return new ArchiveMember(archiveName, null, $"has more than {limits.MaxEntries} members; the rest were not read");
                    yield break;
                }
                if (UnsafePathReason(entry.FullName) is { } unsafeReason) { yield return new ArchiveMember(name, null, unsafeReason); continue; }
                if (entry.Length > limits.MaxEntryBytes)
                {
                    yield return new ArchiveMember(name, null, $"expands to {entry.Length} bytes, over the {limits.MaxEntryBytes}-byte limit per member");
                    continue;
                }
                if (entry.CompressedLength > 0 && (double)entry.Length / entry.CompressedLength > limits.MaxCompressionRatio)
                {
                    yield return new ArchiveMember(name, null,
                        $"compression ratio {(double)entry.Length / entry.CompressedLength:0}:1 is over the {limits.MaxCompressionRatio:0}:1 limit (a zip bomb?)");
                    continue;
                }
                var (data, error) = ReadBounded(() => entry.Open(), limits.MaxEntryBytes, limits.MaxExpandedBytes - expanded);
                if (data is not null) expanded += data.Length;
                yield return new ArchiveMember(name, data, error);
            }
        }
    }

    private static IEnumerable<ArchiveMember> ReadTar(string archiveName, Stream stream, ArchiveLimits limits, bool gzip)
    {
        Stream source = gzip ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : stream;
        using var reader = new TarReader(source, leaveOpen: false);
        long expanded = 0;
        int index = 0;
        while (true)
        {
            TarEntry? entry;
            string? broken = null;
            try { entry = reader.GetNextEntry(copyData: false); }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException) { entry = null; broken = e.Message; }
            if (broken is not null) { yield return new ArchiveMember(archiveName, null, $"the archive is broken from here on: {broken}"); yield break; }
            if (entry is null) yield break;
            if (entry.EntryType == TarEntryType.Directory) continue;
            string name = $"{archiveName}:{entry.Name}";
            if (++index > limits.MaxEntries)
            {
                yield return new ArchiveMember(archiveName, null, $"has more than {limits.MaxEntries} members; the rest were not read");
                yield break;
            }
            if (UnsafePathReason(entry.Name) is { } unsafeReason) { yield return new ArchiveMember(name, null, unsafeReason); continue; }
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            {
                yield return new ArchiveMember(name, null, $"is a {entry.EntryType} entry, not a regular file");
                continue;
            }
            if (entry.Length > limits.MaxEntryBytes)
            {
                yield return new ArchiveMember(name, null, $"is {entry.Length} bytes, over the {limits.MaxEntryBytes}-byte limit per member");
                continue;
            }
            var data = entry.DataStream;
            var (bytes, error) = data is null ? ([], null) : ReadBounded(() => data, limits.MaxEntryBytes, limits.MaxExpandedBytes - expanded);
            if (bytes is not null) expanded += bytes.Length;
            yield return new ArchiveMember(name, bytes, error);
        }
    }

    /// <summary>Reads a member without trusting its declared size: stops one byte past the limit.</summary>
    private static (byte[]? Data, string? Error) ReadBounded(Func<Stream> open, long maxBytes, long budgetLeft)
    {
        long limit = Math.Min(maxBytes, Math.Max(0, budgetLeft));
        try
        {
            using var input = open();
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = input.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > limit)
                    return (null, limit < maxBytes
                        ? "the archive expands past its total limit; this member and the rest were refused"
                        : $"expands past the {maxBytes}-byte limit per member (its header understated its size)");
            }
            return (buffer.ToArray(), null);
        }
        catch (InvalidDataException e) { return (null, $"cannot be decompressed: {e.Message}"); }
    }
}
