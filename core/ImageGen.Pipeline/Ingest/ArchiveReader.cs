using System.Buffers.Binary;
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
    /// <summary>A zip's central directory, which the zip reader loads whole when it opens the archive.</summary>
    public long MaxCentralDirectoryBytes { get; init; } = 128L * 1024 * 1024;
    /// <summary>One tar PAX extended header or GNU long name, which the tar reader loads whole before any check of ours.</summary>
    public long MaxTarHeaderBytes { get; init; } = 1024 * 1024;
    public static readonly ArchiveLimits Default = new();
}

/// <summary>One member of an archive: its bytes, or why it was refused. Name is "archive.zip:path/in/archive".</summary>
public sealed record ArchiveMember(string Name, byte[]? Data, string? Rejection);

/// <summary>
/// Reads the images inside a dropped .zip, .tar, .tar.gz or .tgz one member at a time. Members whose path
/// could climb out of a folder (../, absolute, drive letters) are refused by name, as are links and members
/// that expand past the limits. An archive that is itself broken, or over a limit that covers the whole
/// archive, ends with one rejection naming it; what it gave before that is kept.
/// </summary>
public static class ArchiveReader
{
    public static bool IsArchive(string name) => Core.Data.ArchiveNames.IsArchive(name);

    /// <summary>The members of the archive in <paramref name="seekable"/>, lazily; at most one member's bytes are held at a time.</summary>
    public static IEnumerable<ArchiveMember> Read(string archiveName, Stream seekable, ArchiveLimits? limits = null)
    {
        limits ??= ArchiveLimits.Default;
        bool zip = archiveName.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);
        return StopAtBrokenArchive(archiveName, zip ? "not a readable zip archive" : "the archive is broken from here on",
            zip ? ReadZip(archiveName, seekable, limits)
                : ReadTar(archiveName, seekable, limits, gzip: !archiveName.EndsWith(".tar", StringComparison.OrdinalIgnoreCase)));
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

    /// <summary>
    /// The one place an archive's own failure becomes a rejection: whatever the zip and tar readers throw for a
    /// corrupt or oversized header, or a limit of ours that covers the whole archive, ends this archive only.
    /// </summary>
    private static IEnumerable<ArchiveMember> StopAtBrokenArchive(string archiveName, string brokenPrefix, IEnumerable<ArchiveMember> members)
    {
        using var next = members.GetEnumerator();
        while (true)
        {
            string? stop = null;
            try
            {
                if (!next.MoveNext()) yield break;
            }
            catch (ArchiveLimitExceeded e) { stop = e.Message; }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or NotSupportedException or IOException or FormatException)
            {
                stop = $"{brokenPrefix}: {e.Message}";
            }
            if (stop is not null) { yield return new ArchiveMember(archiveName, null, stop); yield break; }
            yield return next.Current;
        }
    }

    private static IEnumerable<ArchiveMember> ReadZip(string archiveName, Stream stream, ArchiveLimits limits)
    {
        // Checked from the tail before ZipArchive opens: it loads every central directory entry on open.
        var declared = ZipDirectorySize.Read(stream);
        if (declared.Entries > (ulong)limits.MaxEntries)
            throw new ArchiveLimitExceeded($"declares {declared.Entries} members, over the {limits.MaxEntries}-member limit; nothing in it was read");
        if (declared.Bytes > (ulong)limits.MaxCentralDirectoryBytes)
            throw new ArchiveLimitExceeded($"declares a {declared.Bytes}-byte central directory, over the {limits.MaxCentralDirectoryBytes}-byte limit; nothing in it was read");
        stream.Position = 0;
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var expanded = new ExpansionBudget(limits.MaxExpandedBytes);
        foreach (var entry in zip.Entries)
        {
            if (entry.FullName.EndsWith('/')) continue; // a folder
            string name = $"{archiveName}:{entry.FullName}";
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
            var (data, error) = ReadBounded(() => new MeteredStream(entry.Open(), expanded, disposeInner: true), limits.MaxEntryBytes);
            yield return new ArchiveMember(name, data, error);
        }
    }

    private static IEnumerable<ArchiveMember> ReadTar(string archiveName, Stream stream, ArchiveLimits limits, bool gzip)
    {
        Stream source = gzip ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : stream;
        // Every byte of the tar counts against the budget: headers, PAX and GNU metadata, skipped members, padding.
        var metered = new MeteredStream(source, new ExpansionBudget(limits.MaxExpandedBytes), disposeInner: gzip, limits.MaxTarHeaderBytes);
        using var reader = new TarReader(metered, leaveOpen: false);
        int index = 0;
        while (reader.GetNextEntry(copyData: false) is { } entry)
        {
            if (entry.EntryType == TarEntryType.Directory) continue;
            string name = $"{archiveName}:{entry.Name}";
            if (++index > limits.MaxEntries)
                throw new ArchiveLimitExceeded($"has more than {limits.MaxEntries} members; the rest were not read");
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
            var (bytes, error) = data is null ? ([], null) : ReadBounded(() => data, limits.MaxEntryBytes);
            yield return new ArchiveMember(name, bytes, error);
        }
    }

    /// <summary>Reads a member without trusting its declared size: stops one byte past the limit.</summary>
    private static (byte[]? Data, string? Error) ReadBounded(Func<Stream> open, long maxBytes)
    {
        try
        {
            using var input = open();
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = input.Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes) return (null, $"expands past the {maxBytes}-byte limit per member (its header understated its size)");
            }
            return (buffer.ToArray(), null);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException)
        {
            return (null, $"cannot be decompressed: {e.Message}");
        }
    }

    /// <summary>A limit that covers the whole archive: the rest of it is refused, under the archive's name.</summary>
    private sealed class ArchiveLimitExceeded(string message) : Exception(message);

    /// <summary>The bytes one archive may still expand to, shared by every stream read from it.</summary>
    private sealed class ExpansionBudget(long maxBytes)
    {
        private long used;

        public void Charge(int bytes)
        {
            used += bytes;
            if (used > maxBytes) throw new ArchiveLimitExceeded($"expands past its {maxBytes}-byte total limit; the rest was not read");
        }
    }

    /// <summary>
    /// What a zip's end-of-central-directory record, and its zip64 record when there is one, declare: read from
    /// the stream's tail, so a zip claiming millions of members is refused before any member is loaded.
    /// </summary>
    private readonly record struct ZipDirectorySize(ulong Entries, ulong Bytes)
    {
        private const uint EndSignature = 0x06054b50, Zip64LocatorSignature = 0x07064b50, Zip64EndSignature = 0x06064b50;
        private const int EndLength = 22, Zip64LocatorLength = 20, Zip64EndLength = 56;

        public static ZipDirectorySize Read(Stream stream)
        {
            long length = stream.Length;
            int tailLength = (int)Math.Min(length, EndLength + ushort.MaxValue); // the record, then a comment of up to 64 KB
            if (tailLength < EndLength) throw new InvalidDataException("too short for a zip's end-of-central-directory record");
            var tail = ReadAt(stream, length - tailLength, tailLength);
            for (int at = tailLength - EndLength; at >= 0; at--)
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(at)) != EndSignature) continue;
                var end = tail.AsSpan(at);
                var size = new ZipDirectorySize(BinaryPrimitives.ReadUInt16LittleEndian(end[10..]), BinaryPrimitives.ReadUInt32LittleEndian(end[12..]));
                long locatorAt = length - tailLength + at - Zip64LocatorLength;
                return locatorAt >= 0 ? Zip64(stream, locatorAt, size) : size;
            }
            throw new InvalidDataException("no end-of-central-directory record: not a zip, or a truncated one");
        }

        /// <summary>The larger of the two declarations, so neither record can hide a count from this check.</summary>
        private static ZipDirectorySize Zip64(Stream stream, long locatorAt, ZipDirectorySize classic)
        {
            var locator = ReadAt(stream, locatorAt, Zip64LocatorLength);
            if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != Zip64LocatorSignature) return classic;
            ulong recordAt = BinaryPrimitives.ReadUInt64LittleEndian(locator.AsSpan(8));
            // Checked in ulong without subtracting from the length: an archive shorter than the record has no room for it.
            if (stream.Length < Zip64EndLength || recordAt > (ulong)stream.Length - Zip64EndLength)
                throw new InvalidDataException($"its zip64 end-of-central-directory record is said to start at byte {recordAt}, past the end of the file");
            var record = ReadAt(stream, (long)recordAt, Zip64EndLength);
            if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature)
                throw new InvalidDataException("its zip64 end-of-central-directory locator points at no zip64 record");
            return new ZipDirectorySize(
                Math.Max(classic.Entries, BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(32))),
                Math.Max(classic.Bytes, BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(40))));
        }

        private static byte[] ReadAt(Stream stream, long offset, int count)
        {
            var bytes = new byte[count];
            stream.Position = offset;
            stream.ReadExactly(bytes);
            return bytes;
        }
    }

    /// <summary>
    /// A read-only, forward-only view that charges every byte read to the archive's budget. For a tar it also
    /// looks at each 512-byte block as it passes, and stops a PAX or GNU metadata header over the size limit
    /// before the tar reader sees it (the reader allocates the whole declared size at once).
    /// </summary>
    private sealed class MeteredStream(Stream inner, ExpansionBudget budget, bool disposeInner, long? maxTarHeaderBytes = null) : Stream
    {
        private const int TarBlock = 512;
        private readonly byte[] block = new byte[TarBlock];
        private int blockFilled;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read = inner.Read(buffer);
            budget.Charge(read);
            if (maxTarHeaderBytes is { } max) InspectTarBlocks(buffer[..read], max);
            return read;
        }

        private void InspectTarBlocks(ReadOnlySpan<byte> bytes, long max)
        {
            while (bytes.Length > 0)
            {
                if (blockFilled == 0 && bytes.Length >= TarBlock)
                {
                    CheckTarMetadataHeader(bytes[..TarBlock], max);
                    bytes = bytes[TarBlock..];
                    continue;
                }
                int take = Math.Min(TarBlock - blockFilled, bytes.Length);
                bytes[..take].CopyTo(block.AsSpan(blockFilled));
                blockFilled += take;
                bytes = bytes[take..];
                if (blockFilled == TarBlock) { CheckTarMetadataHeader(block, max); blockFilled = 0; }
            }
        }

        /// <summary>Headers start on 512-byte boundaries; one is recognised by its type flag and a checksum that adds up.</summary>
        private static void CheckTarMetadataHeader(ReadOnlySpan<byte> header, long max)
        {
            string? kind = (char)header[156] switch
            {
                'x' => "PAX extended", 'g' => "PAX global", 'L' => "GNU long-name", 'K' => "GNU long-link", _ => null,
            };
            if (kind is null || !ChecksumAddsUp(header)) return;
            long size = TarNumber(header.Slice(124, 12));
            if (size > max) throw new ArchiveLimitExceeded($"has a {kind} header of {size} bytes, over the {max}-byte limit for tar metadata; the rest was not read");
        }

        private static bool ChecksumAddsUp(ReadOnlySpan<byte> header)
        {
            long sum = 0;
            for (int i = 0; i < TarBlock; i++) sum += i is >= 148 and < 156 ? (byte)' ' : header[i];
            return TarNumber(header.Slice(148, 8)) == sum;
        }

        /// <summary>A tar number field: octal digits, or base-256 when the first byte's top bit is set (saturating).</summary>
        private static long TarNumber(ReadOnlySpan<byte> field)
        {
            long value = 0;
            if ((field[0] & 0x80) != 0)
            {
                for (int i = 0; i < field.Length; i++)
                {
                    if (value > long.MaxValue >> 8) return long.MaxValue;
                    value = (value << 8) | (uint)(i == 0 ? field[0] & 0x7F : field[i]); // unsigned: a byte, never sign-extended
                }
                return value;
            }
            foreach (byte b in field)
            {
                if (b is (byte)' ' or 0) { if (value > 0) break; continue; }
                if (b is < (byte)'0' or > (byte)'7') return -1;
                value = value * 8 + (b - '0');
            }
            return value;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false; // skipped tar members are read through, so they count too
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && disposeInner) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
